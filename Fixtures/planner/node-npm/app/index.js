const http = require('http');
http.createServer((q, r) => r.end('hi')).listen(process.env.PORT || 3000);
