'use strict';
// What Prometheus scrapes: prom-client's process metrics, requests labelled by route pattern
// (never the raw URL, which any client could vary), and how calls to the backend went.

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
  const backendRequests = new client.Counter({
    name: 'backend_requests_total',
    help: 'Calls to the backend API, by outcome (ok or error).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  // Both outcomes from the start, so a rate() over errors exists before the first error.
  backendRequests.inc({ outcome: 'ok' }, 0);
  backendRequests.inc({ outcome: 'error' }, 0);

  return {
    registry,
    observe(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: String(statusCode) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    backendCall(outcome) {
      backendRequests.inc({ outcome });
    },
  };
}

module.exports = { createMetrics };
