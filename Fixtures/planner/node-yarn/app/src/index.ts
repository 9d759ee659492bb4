console.log('yarn');
