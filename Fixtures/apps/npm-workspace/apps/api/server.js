// Workspace app: uses the workspace package `greet` (linked by npm at the root, no registry download).
const http = require('http');
const greet = require('greet');
http.createServer((req, res) => res.end(greet('api') + ' cwd=' + process.cwd() + ' uid=' + process.getuid()))
  .listen(Number(process.env.PORT || 3000), '0.0.0.0');
