'use strict';
// CloudFront and the load balancer in front of the locally running reference services, for
// tests/test_reference_services.py: every request goes through the viewer-request function
// exactly as synthesized (a script in strict mode, as CloudFront loads it), and what passes is
// forwarded to the service whose load-balancer route matches, else to the default one.
// Usage: node local_edge.js CONFIG.json, with {port, functionCode, routes: [{pattern, target}],
// defaultTarget}; prints one line once it listens.

const fs = require('fs');
const http = require('http');
const vm = require('vm');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const handler = vm.runInNewContext(`"use strict";\n${config.functionCode}\n;handler`, {}, { filename: 'viewer-request.js' });

// A load balancer's path pattern: '*' matches any characters, case-sensitively.
function matches(pattern, path) {
  const expression = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${expression}$`).test(path);
}

function viewerRequest(request, url) {
  const querystring = {};
  for (const [name, value] of url.searchParams) querystring[name] = { value };
  const headers = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = { value: String(value) };
  return {
    version: '1.0',
    context: { eventType: 'viewer-request' },
    viewer: { ip: request.socket.remoteAddress },
    request: { method: request.method, uri: url.pathname, querystring, headers, cookies: {} },
  };
}

const server = http.createServer(async (request, response) => {
  // The raw path, as CloudFront hands it to the function (not decoded).
  const url = new URL(request.url, 'http://edge.invalid');
  let result;
  try {
    result = await handler(viewerRequest(request, url));
  } catch (error) {
    response.writeHead(503).end(`viewer-request function failed: ${error.message}`);
    return;
  }
  if (result.statusCode) {
    response.writeHead(result.statusCode).end();
    return;
  }
  const route = config.routes.find((candidate) => matches(candidate.pattern, result.uri));
  const target = new URL(result.uri + url.search, route ? route.target : config.defaultTarget);
  const upstream = http.request(target, { method: request.method, headers: request.headers }, (answer) => {
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  upstream.on('error', (error) => response.writeHead(502).end(`origin unreachable: ${error.code}`));
  request.pipe(upstream);
});

server.listen(config.port, '127.0.0.1', () => console.log(`edge listening on http://127.0.0.1:${config.port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
