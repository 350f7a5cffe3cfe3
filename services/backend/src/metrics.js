'use strict';
// What Prometheus scrapes: prom-client's process metrics and one counter and histogram of
// requests, labelled by route pattern (never the raw URL, which any client could vary).

const client = require('prom-client');

function createMetrics() {
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
    observe(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: String(statusCode) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}

module.exports = { createMetrics };
