'use strict';
// The backend API: GET /api/items from PostgreSQL, its health (which checks the database)
// and Prometheus metrics. Run as `node src/server.js`; configured by environment only.
// Answers that reach the public edge say only ok or unavailable: why (the database's state, a
// TLS or sign-in failure) goes to the log, never to whoever asks.

const http = require('node:http');
const { createMetrics, secondsSince } = require('./metrics');
const database = require('./database');

const ITEMS_PATH = '/api/items';
const HEALTH_TIMEOUT_MS = 2000;
const ITEMS_TIMEOUT_MS = 5000;
// Past this, open requests are cut so the task stops before ECS's SIGKILL (30 s by default).
const DRAIN_MS = 8000;
const EXIT_DEADLINE_MS = 9500;

function urlPath(name, value) {
  if (!/^\/[^\s?#]*$/.test(value)) {
    throw new database.ConfigError(`${name} must be a path starting with / (got ${JSON.stringify(value)})`);
  }
  return value;
}

// METRICS_INSTRUMENTATION=off makes the request and query metrics no-ops (the metrics path still
// answers, with the process metrics and the pool): it exists for make bench-services, which
// measures what the instrumentation costs. Anything but on (the default) or off is refused.
function instrumentationFrom(env) {
  const value = env.METRICS_INSTRUMENTATION || 'on';
  if (value !== 'on' && value !== 'off') {
    throw new database.ConfigError(`METRICS_INSTRUMENTATION must be on or off (got ${JSON.stringify(value)})`);
  }
  return value === 'on';
}

function httpSettings(env) {
  if (env.PORT === undefined || env.PORT === '') throw new database.ConfigError('PORT is required');
  const port = Number(env.PORT);
  if (!/^\d+$/.test(env.PORT) || port > 65535) {
    throw new database.ConfigError(`PORT must be a port number (got ${JSON.stringify(env.PORT)})`);
  }
  return {
    port,
    host: env.HOST || '0.0.0.0',
    healthPath: urlPath('HEALTH_CHECK_PATH', env.HEALTH_CHECK_PATH || '/api/health'),
    metricsPath: urlPath('METRICS_PATH', env.METRICS_PATH || '/api/metrics'),
    instrumented: instrumentationFrom(env),
  };
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

// Builds the server without listening; throws ConfigError on bad settings.
function createApp(env = process.env) {
  const settings = httpSettings(env);
  const connection = database.connectionSettings(env);
  const pool = database.createPool(connection);
  const metrics = createMetrics({ pool, instrumented: settings.instrumented });

  const routes = new Map([
    [
      settings.healthPath,
      async (req, res) => {
        try {
          await metrics.timeQuery('health_check', () => database.checkDatabase(pool, HEALTH_TIMEOUT_MS));
          send(res, 200, { status: 'ok' });
        } catch (error) {
          database.logDatabaseError('health check', error);
          send(res, 503, { status: 'unavailable' });
        }
      },
    ],
    [
      settings.metricsPath,
      async (req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
        res.end(text);
      },
    ],
    [
      ITEMS_PATH,
      async (req, res) => {
        let rows;
        try {
          rows = await metrics.timeQuery('list_items', () =>
            database.withTimeout(database.listItems(pool), ITEMS_TIMEOUT_MS),
          );
        } catch (error) {
          database.logDatabaseError('items', error);
          send(res, 503, { error: 'unavailable' });
          return;
        }
        // price stays PostgreSQL's exact decimal text ("12.50"), not a binary float.
        const items = rows.map(({ id, name, description, price }) => ({ id, name, description, price }));
        send(res, 200, { items });
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
      send(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
      return;
    }
    const handler = routes.get(path);
    if (!handler) {
      send(res, 404, { error: 'not found' });
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      console.error(`backend: ${route}: ${error.message}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
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
      closing = new Promise((resolve) => server.close(() => resolve()))
        .finally(() => {
          clearInterval(idle);
          clearTimeout(cut);
        })
        .then(() => pool.end());
    }
    return closing;
  }

  return { server, pool, settings, connection, close };
}

function main() {
  let app;
  try {
    app = createApp(process.env);
  } catch (error) {
    console.error(`backend: ${error.message}`);
    process.exit(1);
  }
  const { server, settings, connection } = app;
  server.on('error', (error) => {
    console.error(`backend: cannot listen on ${settings.host}:${settings.port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(settings.port, settings.host, () => {
    const { port } = server.address();
    console.log(
      `backend listening on http://${settings.host}:${port} (health ${settings.healthPath}, metrics ${settings.metricsPath}; ` +
        `database ${connection.description})`,
    );
    if (!settings.instrumented) {
      console.log('backend: METRICS_INSTRUMENTATION=off: requests and database statements are not counted');
    }
  });

  const stop = (signal) => {
    console.log(`backend stopping on ${signal}`);
    setTimeout(() => process.exit(0), EXIT_DEADLINE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (error) => {
        database.logDatabaseError('closing the pool', error);
        process.exit(0);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) main();

module.exports = { createApp, httpSettings };
