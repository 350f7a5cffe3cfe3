'use strict';
// What Prometheus scrapes: the request metrics every service has (src/skeleton.js); the database
// pool's connections; and each statement the server runs, by its fixed name (never its SQL),
// with how it failed.

const client = require('prom-client');
const { ERROR_KINDS, STATEMENTS, errorKind } = require('./database');
const { requestMetrics, secondsSince } = require('./skeleton');

const OUTCOMES = ['ok', 'error'];
// The default buckets start at 5 ms; a healthy query answers in about one.
const QUERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// pool: the pg Pool whose connections are counted at each scrape. instrumented: false leaves
// the request and query metrics at zero (see instrumentationFrom in skeleton.js).
function createMetrics({ pool, instrumented = true }) {
  const metrics = requestMetrics({ instrumented });
  const { registry } = metrics;
  new client.Gauge({
    name: 'db_pool_connections',
    help: 'Connections of the database pool: in_use (lent to a query), idle, and waiting (requests waiting for one).',
    labelNames: ['state'],
    registers: [registry],
    // Read from the pool as Prometheus scrapes, so nothing on the request path keeps it current.
    collect() {
      this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  const queryDuration = new client.Histogram({
    name: 'db_query_duration_seconds',
    help: 'Time of database statements, waiting for a pooled connection included, by statement name and outcome (ok or error).',
    labelNames: ['statement', 'outcome'],
    buckets: QUERY_BUCKETS,
    registers: [registry],
  });
  const queryErrors = new client.Counter({
    name: 'db_query_errors_total',
    help: 'Failed database statements, by statement name and kind: connection, timeout or query (refused by the database).',
    labelNames: ['statement', 'kind'],
    registers: [registry],
  });
  // Every series from the start, so a rate() over errors exists before the first error.
  for (const statement of Object.keys(STATEMENTS)) {
    for (const outcome of OUTCOMES) queryDuration.zero({ statement, outcome });
    for (const kind of ERROR_KINDS) queryErrors.inc({ statement, kind }, 0);
  }

  return {
    ...metrics,
    // Runs query(), a promise of the statement named `statement`, recording its time and outcome;
    // settles as the query does.
    async timeQuery(statement, query) {
      if (!Object.hasOwn(STATEMENTS, statement)) throw new Error(`no statement named ${statement} in STATEMENTS`);
      if (!instrumented) return query();
      const started = process.hrtime.bigint();
      try {
        const result = await query();
        queryDuration.observe({ statement, outcome: 'ok' }, secondsSince(started));
        return result;
      } catch (error) {
        queryDuration.observe({ statement, outcome: 'error' }, secondsSince(started));
        queryErrors.inc({ statement, kind: errorKind(error) });
        throw error;
      }
    },
  };
}

module.exports = { createMetrics };
