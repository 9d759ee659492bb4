#!/usr/bin/env node
// A stand-in for `vite build` (no registry download): writes index.html and a content-hashed asset to dist/.
const fs = require('fs');
fs.mkdirSync('dist/assets', { recursive: true });
const js = fs.readFileSync('src/main.js', 'utf8');
fs.writeFileSync('dist/assets/index-B7x2Qk9a.js', js);
fs.writeFileSync('dist/index.html', '<!doctype html><div id="app">vite spa</div><script src="/assets/index-B7x2Qk9a.js"></script>\n');
