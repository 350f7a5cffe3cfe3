'use strict';
// The HTTP skeleton both reference services run: settings from the environment, the request
// metrics, routing with its 405, 404 and 500 answers, the metrics path, keep-alive timeouts,
// draining on stop, and the process's start and signals. The same file is in services/backend/src
// and services/frontend/src, copied rather than shared because each service is a build context
// of its own (docs/image-contract.md, "The reference services' code"), and
// tests/unit/test_service_skeletons.py fails when the copies differ: change both.

const http = require('node:http');
const client = require('prom-client');

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

// METRICS_INSTRUMENTATION=off makes the request metrics and the service's own no-ops (the
// metrics path still answers, with the process metrics and any read at scrape time): it exists
// for make bench-services, which measures what the instrumentation costs. Anything but on (the
// default) or off is refused.
function instrumentationFrom(env) {
  const value = env.METRICS_INSTRUMENTATION || 'on';
  if (value !== 'on' && value !== 'off') {
    throw new ConfigError(`METRICS_INSTRUMENTATION must be on or off (got ${JSON.stringify(value)})`);
  }
  return value === 'on';
}

// PORT (required), HOST, HEALTH_CHECK_PATH, METRICS_PATH and METRICS_INSTRUMENTATION.
function httpSettings(env) {
  if (env.PORT === undefined || env.PORT === '') throw new ConfigError('PORT is required');
  const port = Number(env.PORT);
  if (!/^\d+$/.test(env.PORT) || port > 65535) {
    throw new ConfigError(`PORT must be a port number (got ${JSON.stringify(env.PORT)})`);
  }
  return {
    port,
    host: env.HOST || '0.0.0.0',
    healthPath: urlPath('HEALTH_CHECK_PATH', env.HEALTH_CHECK_PATH || '/api/health'),
    metricsPath: urlPath('METRICS_PATH', env.METRICS_PATH || '/api/metrics'),
    instrumented: instrumentationFrom(env),
  };
}

function secondsSince(started) {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

// A registry with prom-client's process metrics and the two request families the platform's
// objectives read, labelled by route pattern (never the raw URL, which any client could vary).
// The service adds its own families to `registry`. instrumented: false leaves them at zero.
function requestMetrics({ instrumented = true } = {}) {
  // A registry per server rather than prom-client's global one, so tests can run several.
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'];
  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });

  return {
    registry,
    instrumented,
    observe(method, route, statusCode, seconds) {
      if (!instrumented) return;
      const labels = { method, route, status_code: String(statusCode) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
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

function sendJson(res, status, body, headers = {}) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

// The server of `routes` (path -> async (req, res) handler) and of the metrics path: GET and
// HEAD only, each request counted under its route pattern ("unmatched" for the rest), a handler
// that throws answers 500 and is logged as `name: route: message`.
function createServer({ name, settings, metrics, routes }) {
  const handlers = new Map([
    ...routes,
    [
      settings.metricsPath,
      async (req, res) => {
        send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      },
    ],
  ]);

  const server = http.createServer(async (req, res) => {
    const path = req.url.split('?')[0];
    const route = handlers.has(path) ? path : 'unmatched';
    if (metrics.instrumented) {
      const started = process.hrtime.bigint();
      res.on('finish', () => metrics.observe(req.method, route, res.statusCode, secondsSince(started)));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
      return;
    }
    const handler = handlers.get(path);
    if (!handler) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      console.error(`${name}: ${route}: ${error.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  });
  // Longer than the load balancer's 60 s idle timeout, so it never reuses a connection we closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

// close(): stop accepting, let open requests finish (cut after DRAIN_MS), then run afterwards()
// (the backend ends its pool). Every call returns the same promise.
function closer(server, afterwards = async () => {}) {
  let closing = null;
  return function close() {
    if (!closing) {
      // Keep-alive connections that finish their request after close() would hold it open.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
      closing = new Promise((resolve) => server.close(() => resolve()))
        .finally(() => {
          clearInterval(idle);
          clearTimeout(cut);
        })
        .then(() => afterwards());
    }
    return closing;
  };
}

// The process: createApp(process.env) (a bad setting exits 1 with its reason in one line),
// listening on settings.host and settings.port with a line naming `describe(app)`, and on SIGTERM
// or SIGINT app.close() and exit 0, by EXIT_DEADLINE_MS at the latest. uncounted: what
// METRICS_INSTRUMENTATION=off leaves uncounted, for the start-up line.
function run(name, createApp, { describe, uncounted }) {
  let app;
  try {
    app = createApp(process.env);
  } catch (error) {
    console.error(`${name}: ${error.message}`);
    process.exit(1);
  }
  const { server, settings } = app;
  server.on('error', (error) => {
    console.error(`${name}: cannot listen on ${settings.host}:${settings.port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(settings.port, settings.host, () => {
    const { port } = server.address();
    console.log(
      `${name} listening on http://${settings.host}:${port} (health ${settings.healthPath}, metrics ${settings.metricsPath}; ` +
        `${describe(app)})`,
    );
    if (!settings.instrumented) {
      console.log(`${name}: METRICS_INSTRUMENTATION=off: ${uncounted} are not counted`);
    }
  });

  const stop = (signal) => {
    console.log(`${name} stopping on ${signal}`);
    setTimeout(() => process.exit(0), EXIT_DEADLINE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error) => {
        console.error(`${name}: stopping: ${error.message}`);
        process.exit(0);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

module.exports = {
  ConfigError,
  closer,
  createServer,
  httpSettings,
  requestMetrics,
  run,
  secondsSince,
  send,
  sendJson,
};
