const http = require("http");
const fs = require("fs");
const message = fs.readFileSync(__dirname + "/dist/message.txt", "utf8");
http.createServer((req, res) => res.end(message)).listen(Number(process.env.PORT || 3000), "0.0.0.0");
