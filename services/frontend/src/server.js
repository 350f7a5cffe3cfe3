'use strict';
// The frontend: a page of the backend's items, its own health (which does not call the
// backend, so a backend outage does not take the frontend out of its target group too) and
// Prometheus metrics. Run as `node src/server.js`; configured by environment only.

const http = require('node:http');
const { createMetrics, secondsSince } = require('./metrics');
const { CONTENT_SECURITY_POLICY, itemsPage, unavailablePage } = require('./page');

const BACKEND_TIMEOUT_MS = 3000;
const HOME = '/';
// Past this, open requests are cut so the task stops before ECS's SIGKILL (30 s by default).
const DRAIN_MS = 8000;
const EXIT_DEADLINE_MS = 9500;

class ConfigError extends Error {}

function urlPath(name, value) {
  if (!/^\/[^\s?#]*$/.test(value)) {
    throw new ConfigError(`${name} must be a path starting with / (got ${JSON.stringify(value)})`);
  }
  return value;
}

// METRICS_INSTRUMENTATION=off makes the request, backend-call and render metrics no-ops (the
// metrics path still answers, with the process metrics): it exists for make bench-services,
// which measures what the instrumentation costs. Anything but on (the default) or off is refused.
function instrumentationFrom(env) {
  const value = env.METRICS_INSTRUMENTATION || 'on';
  if (value !== 'on' && value !== 'off') {
    throw new ConfigError(`METRICS_INSTRUMENTATION must be on or off (got ${JSON.stringify(value)})`);
  }
  return value === 'on';
}

function settingsFrom(env) {
  if (env.PORT === undefined || env.PORT === '') throw new ConfigError('PORT is required');
  const port = Number(env.PORT);
  if (!/^\d+$/.test(env.PORT) || port > 65535) {
    throw new ConfigError(`PORT must be a port number (got ${JSON.stringify(env.PORT)})`);
  }
  if (!env.BACKEND_URL) throw new ConfigError('BACKEND_URL is required');
  let backend;
  try {
    backend = new URL(env.BACKEND_URL);
  } catch {
    backend = null;
  }
  if (!backend || !['http:', 'https:'].includes(backend.protocol)) {
    throw new ConfigError(`BACKEND_URL must be an http(s) URL (got ${JSON.stringify(env.BACKEND_URL)})`);
  }
  return {
    port,
    host: env.HOST || '0.0.0.0',
    healthPath: urlPath('HEALTH_CHECK_PATH', env.HEALTH_CHECK_PATH || '/api/health'),
    metricsPath: urlPath('METRICS_PATH', env.METRICS_PATH || '/api/metrics'),
    itemsUrl: `${env.BACKEND_URL.replace(/\/+$/, '')}/api/items`,
    instrumented: instrumentationFrom(env),
  };
}

async function fetchItems(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS) });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`answered ${response.status}`);
  }
  const body = await response.json();
  if (!body || !Array.isArray(body.items) || !body.items.every((item) => item && typeof item.name === 'string')) {
    throw new Error('answered without a list of named items');
  }
  return body.items;
}

function send(res, status, contentType, text, headers = {}) {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

// A page names what it loads; the edge keeps this policy rather than its own (load nothing).
function sendPage(res, status, html) {
  send(res, status, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
}

function sendJson(res, status, body, headers = {}) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

// Builds the server without listening; throws ConfigError on bad settings.
function createApp(env = process.env) {
  const settings = settingsFrom(env);
  const metrics = createMetrics({ pageRoutes: [HOME], instrumented: settings.instrumented });

  const routes = new Map([
    [
      HOME,
      async (req, res) => {
        let items;
        try {
          items = await metrics.backendCall(() => fetchItems(settings.itemsUrl));
        } catch (error) {
          const reason = error.name === 'TimeoutError' ? `no answer within ${BACKEND_TIMEOUT_MS} ms` : error.message;
          console.error(`backend: ${settings.itemsUrl}: ${reason}`);
          sendPage(res, 503, metrics.render(HOME, unavailablePage));
          return;
        }
        sendPage(res, 200, metrics.render(HOME, () => itemsPage(items)));
      },
    ],
    [settings.healthPath, async (req, res) => sendJson(res, 200, { status: 'ok' })],
    [
      settings.metricsPath,
      async (req, res) => {
        send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      },
    ],
  ]);

  const server = http.createServer(async (req, res) => {
    const path = req.url.split('?')[0];
    const route = routes.has(path) ? path : 'unmatched';
    if (metrics.instrumented) {
      const started = process.hrtime.bigint();
      res.on('finish', () => metrics.observe(req.method, route, res.statusCode, secondsSince(started)));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
      return;
    }
    const handler = routes.get(path);
    if (!handler) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      console.error(`frontend: ${route}: ${error.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  });
  // Longer than the load balancer's 60 s idle timeout, so it never reuses a connection we closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  let closing = null;
  function close() {
    if (!closing) {
      // Keep-alive connections that finish their request after close() would hold it open.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
      closing = new Promise((resolve) => server.close(() => resolve())).finally(() => {
        clearInterval(idle);
        clearTimeout(cut);
      });
    }
    return closing;
  }

  return { server, settings, close };
}

function main() {
  let app;
  try {
    app = createApp(process.env);
  } catch (error) {
    console.error(`frontend: ${error.message}`);
    process.exit(1);
  }
  const { server, settings } = app;
  server.on('error', (error) => {
    console.error(`frontend: cannot listen on ${settings.host}:${settings.port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(settings.port, settings.host, () => {
    const { port } = server.address();
    console.log(
      `frontend listening on http://${settings.host}:${port} (health ${settings.healthPath}, metrics ${settings.metricsPath}; ` +
        `items from ${settings.itemsUrl})`,
    );
    if (!settings.instrumented) {
      console.log('frontend: METRICS_INSTRUMENTATION=off: requests, backend calls and renders are not counted');
    }
  });

  const stop = (signal) => {
    console.log(`frontend stopping on ${signal}`);
    setTimeout(() => process.exit(0), EXIT_DEADLINE_MS).unref();
    app.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) main();

module.exports = { createApp, settingsFrom };
