console.log(`hello from deno ${Deno.version.deno}`);
