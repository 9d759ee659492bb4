console.log('pnpm app');
