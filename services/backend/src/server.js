'use strict';
// The backend API: GET /api/items from PostgreSQL, its health (which checks the database)
// and Prometheus metrics. Run as `node src/server.js`; configured by environment only.
// Answers that reach the public edge say only ok or unavailable: why (the database's state, a
// TLS or sign-in failure) goes to the log, never to whoever asks. The HTTP server around the
// routes is src/skeleton.js, the frontend's too.

const { createMetrics } = require('./metrics');
const database = require('./database');
const { closer, createServer, httpSettings, run, sendJson } = require('./skeleton');

const ITEMS_PATH = '/api/items';
const HEALTH_TIMEOUT_MS = 2000;
const ITEMS_TIMEOUT_MS = 5000;

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
          sendJson(res, 200, { status: 'ok' });
        } catch (error) {
          database.logDatabaseError('health check', error);
          sendJson(res, 503, { status: 'unavailable' });
        }
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
          sendJson(res, 503, { error: 'unavailable' });
          return;
        }
        // price stays PostgreSQL's exact decimal text ("12.50"), not a binary float.
        const items = rows.map(({ id, name, description, price }) => ({ id, name, description, price }));
        sendJson(res, 200, { items });
      },
    ],
  ]);

  const server = createServer({ name: 'backend', settings, metrics, routes });
  // Once the server has drained, the pool's connections close too.
  const close = closer(server, () =>
    pool.end().catch((error) => database.logDatabaseError('closing the pool', error)),
  );
  return { server, pool, settings, connection, close };
}

if (require.main === module) {
  run('backend', createApp, {
    describe: ({ connection }) => `database ${connection.description}`,
    uncounted: 'requests and database statements',
  });
}

module.exports = { createApp, httpSettings };
