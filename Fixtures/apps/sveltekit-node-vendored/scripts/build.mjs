// A stand-in for `vite build` with adapter-node: writes build/index.js, a Node server honouring HOST and PORT.
import fs from 'node:fs';
fs.mkdirSync('build', { recursive: true });
fs.writeFileSync('build/index.js', `import http from 'node:http';
const port = Number(process.env.PORT || 3000);
http.createServer((req, res) => res.end('sveltekit-node ' + req.url + ' uid=' + process.getuid()))
  .listen(port, process.env.HOST || '0.0.0.0');
`);
