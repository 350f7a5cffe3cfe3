'use strict';
// The baseline of make bench-services: Node's http module answering every request with one
// fixed body, with the headers the services send, and nothing else (no routing, no metrics,
// no database). What a service serves beyond this is what its own code costs.
//
//   node bench/bare_server.js PORT CONTENT_TYPE BODY_FILE

const fs = require('node:fs');
const http = require('node:http');

function usage(reason) {
  console.error(`bare_server.js: ${reason} (usage: node bench/bare_server.js PORT CONTENT_TYPE BODY_FILE)`);
  process.exit(2);
}

const [portText, contentType, bodyFile] = process.argv.slice(2);
const port = Number(portText);
if (!/^\d+$/.test(portText || '') || port > 65535) usage(`PORT must be a port number (got ${portText})`);
if (!contentType) usage('CONTENT_TYPE is required');
let body;
try {
  body = fs.readFileSync(bodyFile || '');
} catch (error) {
  usage(`cannot read BODY_FILE: ${error.message}`);
}

const headers = { 'Content-Type': contentType, 'Content-Length': body.length, 'Cache-Control': 'no-store' };
const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
// As the services do, so kept-alive connections behave the same.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => console.log(`bare server on http://127.0.0.1:${port}`));
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
