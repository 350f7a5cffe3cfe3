'use strict';
// The frontend: a page of the backend's items, its own health (which does not call the
// backend, so a backend outage does not take the frontend out of its target group too) and
// Prometheus metrics. Run as `node src/server.js`; configured by environment only.
// The HTTP server around the routes is src/skeleton.js, the backend's too.

const { createMetrics } = require('./metrics');
const { CONTENT_SECURITY_POLICY, itemsPage, unavailablePage } = require('./page');
const { ConfigError, closer, createServer, httpSettings, run, send, sendJson } = require('./skeleton');

const BACKEND_TIMEOUT_MS = 3000;
const HOME = '/';

// The skeleton's settings (src/skeleton.js) and BACKEND_URL, where the items come from.
function settingsFrom(env) {
  const settings = httpSettings(env);
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
  return { ...settings, itemsUrl: `${env.BACKEND_URL.replace(/\/+$/, '')}/api/items` };
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

// A page names what it loads; the edge keeps this policy rather than its own (load nothing).
function sendPage(res, status, html) {
  send(res, status, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
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
  ]);

  const server = createServer({ name: 'frontend', settings, metrics, routes });
  return { server, settings, close: closer(server) };
}

if (require.main === module) {
  run('frontend', createApp, {
    describe: ({ settings }) => `items from ${settings.itemsUrl}`,
    uncounted: 'requests, backend calls and renders',
  });
}

module.exports = { createApp, settingsFrom };
