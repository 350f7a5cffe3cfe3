'use strict';
// What the instrumentation costs a request by itself, away from the network and the database:
// each service's own metrics module doing what server.js does for one request, timed over many
// requests with METRICS_INSTRUMENTATION on and off. Under load on a shared machine the two
// services' difference is within the noise; this is not. Prints one JSON object: microseconds
// per request, by service.
//
//   node bench/metrics_cost.js [REQUESTS]

const path = require('node:path');

const SERVICES = path.join(__dirname, '..', 'services');
const backendMetrics = require(path.join(SERVICES, 'backend', 'src', 'metrics'));
const database = require(path.join(SERVICES, 'backend', 'src', 'database'));
const frontendMetrics = require(path.join(SERVICES, 'frontend', 'src', 'metrics'));
// The request's time, as each service's skeleton measures it (src/skeleton.js, the same in both).
const { secondsSince } = require(path.join(SERVICES, 'backend', 'src', 'skeleton'));

const ROWS = [{ id: '1', name: 'Bottled ink', description: 'Blue-black.', price: '12.75' }];

// One request of each, as server.js instruments it (the request's time only when on).
const REQUESTS = {
  async backend(metrics) {
    const started = metrics.instrumented ? process.hrtime.bigint() : 0n;
    await metrics.timeQuery('list_items', async () => ROWS);
    if (metrics.instrumented) metrics.observe('GET', '/api/items', 200, secondsSince(started));
  },
  async frontend(metrics) {
    const started = metrics.instrumented ? process.hrtime.bigint() : 0n;
    const items = await metrics.backendCall(async () => ROWS);
    metrics.render('/', () => items.length);
    if (metrics.instrumented) metrics.observe('GET', '/', 200, secondsSince(started));
  },
};

async function microseconds(request, metrics, count) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) await request(metrics);
  return Number(process.hrtime.bigint() - started) / 1e3 / count;
}

async function main([countText = '200000']) {
  const count = Number(countText);
  if (!Number.isInteger(count) || count < 1000) {
    console.error(`metrics_cost.js: REQUESTS must be a whole number from 1000 (got ${countText})`);
    process.exit(2);
  }
  // A pool makes no connection until a query asks for one: its counts are all the gauge reads.
  const pool = database.createPool(database.connectionSettings({ DB_SSLMODE: 'disable' }));
  const create = {
    backend: (instrumented) => backendMetrics.createMetrics({ pool, instrumented }),
    frontend: (instrumented) => frontendMetrics.createMetrics({ pageRoutes: ['/'], instrumented }),
  };
  const result = {};
  for (const [name, request] of Object.entries(REQUESTS)) {
    const on = create[name](true);
    const off = create[name](false);
    // Warm both up first, then take the better of two timings of each: the first run of a loop
    // pays for compiling it.
    const timings = { on: [], off: [] };
    for (let pass = 0; pass < 3; pass += 1) {
      timings.on.push(await microseconds(request, on, count));
      timings.off.push(await microseconds(request, off, count));
    }
    const best = (values) => Math.min(...values.slice(1));
    result[name] = { on: best(timings.on), off: best(timings.off), metrics: best(timings.on) - best(timings.off) };
  }
  await pool.end();
  console.log(JSON.stringify(result));
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`metrics_cost.js: ${error.message}`);
  process.exit(1);
});
