'use strict';
// What Prometheus scrapes: the request metrics every service has (src/skeleton.js), how calls to
// the backend went and how long they took, and how long each page took to render.

const client = require('prom-client');
const { requestMetrics, secondsSince } = require('./skeleton');

// The service the frontend calls, as the client metrics name it.
const BACKEND = 'backend';
const OUTCOMES = ['ok', 'error'];
// The default buckets start at 5 ms; a page renders in well under one.
const RENDER_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

// pageRoutes: the route patterns that render pages. instrumented: false leaves the request,
// client and render metrics at zero (see instrumentationFrom in skeleton.js).
function createMetrics({ pageRoutes, instrumented = true }) {
  const metrics = requestMetrics({ instrumented });
  const { registry } = metrics;
  const backendRequests = new client.Counter({
    name: 'backend_requests_total',
    help: 'Calls to the backend API, by outcome (ok or error).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  // The default buckets, as the backend's own http_request_duration_seconds has: the two views
  // of one call compare bucket for bucket.
  const clientDuration = new client.Histogram({
    name: 'http_client_request_duration_seconds',
    help: 'Time of calls to other services, until their answer is read, by target service and outcome (ok or error).',
    labelNames: ['target', 'outcome'],
    registers: [registry],
  });
  const renderDuration = new client.Histogram({
    name: 'page_render_duration_seconds',
    help: "Time to render a page's HTML on the server, by route pattern; the backend call before it is not included.",
    labelNames: ['route'],
    buckets: RENDER_BUCKETS,
    registers: [registry],
  });
  // Every series from the start, so a rate() over errors exists before the first error.
  for (const outcome of OUTCOMES) {
    backendRequests.inc({ outcome }, 0);
    clientDuration.zero({ target: BACKEND, outcome });
  }
  for (const route of pageRoutes) renderDuration.zero({ route });

  return {
    ...metrics,
    // Runs call(), a promise of the backend's answer, recording its time and outcome; settles as it does.
    async backendCall(call) {
      if (!instrumented) return call();
      const started = process.hrtime.bigint();
      let outcome = 'error';
      try {
        const result = await call();
        outcome = 'ok';
        return result;
      } finally {
        backendRequests.inc({ outcome });
        clientDuration.observe({ target: BACKEND, outcome }, secondsSince(started));
      }
    },
    // The HTML render() returns, its time recorded under the page's route pattern.
    render(route, render) {
      if (!instrumented) return render();
      const started = process.hrtime.bigint();
      try {
        return render();
      } finally {
        renderDuration.observe({ route }, secondsSince(started));
      }
    },
  };
}

module.exports = { createMetrics };
