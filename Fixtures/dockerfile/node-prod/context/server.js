const http = require("http");
const port = Number(process.env.PORT || 3000);
http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ ok: true, env: process.env.NODE_ENV, version: process.env.BUILD_VERSION }) + "\n");
}).listen(port, () => console.log(`listening on ${port}`));
