'use strict';
// The page against a stub backend (a node http server), the frontend's own health and
// metrics (requests, backend calls, renders, and the switch that turns them off), and the
// process: its required settings and its exit on SIGTERM.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const { after, before, beforeEach, describe, test } = require('node:test');
const { createApp, settingsFrom } = require('../src/server');
const { labelSets, sample } = require('./metrics-text');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

async function scrape(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return response.text();
}

function increase(before, after, name, labels) {
  return sample(after, name, labels) - sample(before, name, labels);
}

const ITEMS = [
  { id: '1', name: 'Bottled ink', description: 'Blue-black.', price: '12.75' },
  { id: '2', name: 'Pens & <pencils>', description: 'A "set".', price: '9.00' },
];

describe('frontend with a stub backend', () => {
  let backend;
  let backendRequests;
  let answer;
  let app;
  let base;
  const logged = [];
  const consoleError = console.error;

  before(async () => {
    console.error = (line) => logged.push(line);
    backend = http.createServer((req, res) => {
      backendRequests.push(req.url);
      answer(req, res);
    });
    const backendUrl = await listen(backend);
    app = createApp({ PORT: '0', BACKEND_URL: `${backendUrl}/` });
    base = await listen(app.server);
  });
  beforeEach(() => {
    backendRequests = [];
    answer = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ items: ITEMS }));
    };
  });
  after(async () => {
    console.error = consoleError;
    backend.closeAllConnections();
    backend.close();
    await app.close();
  });

  test('renders the items on the server, escaped, with their count', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/html/);
    const html = await response.text();
    assert.match(html, /<title>davidshaevel<\/title>/);
    assert.match(html, /<ul data-items="2">/);
    assert.ok(html.includes('Bottled ink'));
    assert.ok(html.includes('Pens &amp; &lt;pencils&gt;'));
    assert.ok(html.includes('A &quot;set&quot;.'));
    assert.deepEqual(backendRequests, ['/api/items']);
  });

  test('says the catalogue is unavailable (503) when the backend fails', async () => {
    answer = (req, res) => {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end('{"error":"database unavailable"}');
    };
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 503);
    assert.match(response.headers.get('content-type'), /^text\/html/);
    assert.match(await response.text(), /catalogue is unavailable/);
    assert.ok(logged.some((line) => line.endsWith('/api/items: answered 503')));
  });

  test('every page names what it loads: its inline stylesheet by hash, no script, nothing else', async () => {
    for (const fail of [false, true]) {
      if (fail) answer = (req, res) => res.writeHead(503).end();
      const response = await fetch(`${base}/`);
      const html = await response.text();
      const policy = response.headers.get('content-security-policy');
      assert.ok(policy, `a ${response.status} page has no Content-Security-Policy`);
      const directives = Object.fromEntries(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
      assert.deepEqual(directives['default-src'], ["'none'"]);
      assert.deepEqual(directives['frame-ancestors'], ["'none'"]);
      const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
      const hashes = styles.map((css) => `'sha256-${crypto.createHash('sha256').update(css).digest('base64')}'`);
      assert.deepEqual(directives['style-src'], hashes);
      assert.doesNotMatch(html, /<script|\sstyle=|\son[a-z]+=|<link|<img/i, 'the page loads nothing else');
    }
  });

  test('gives up on a backend that does not answer within 3 s', async () => {
    answer = () => {};
    const started = Date.now();
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 503);
    assert.ok(Date.now() - started < 4000);
    assert.ok(logged.some((line) => line.endsWith('no answer within 3000 ms')));
  });

  test('health is its own: 200 without calling the backend', async () => {
    answer = (req, res) => res.destroy();
    const response = await fetch(`${base}/api/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
    assert.deepEqual(backendRequests, []);
  });

  test('unknown paths answer 404 JSON, other methods 405', async () => {
    const missing = await fetch(`${base}/about`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'not found' });
    const deleted = await fetch(`${base}/`, { method: 'DELETE' });
    assert.equal(deleted.status, 405);
    assert.equal(deleted.headers.get('allow'), 'GET, HEAD');
  });

  test('metrics count backend calls by outcome and label requests by route pattern', async () => {
    await fetch(`${base}/?utm_source=abc123`);
    await fetch(`${base}/products/42`);
    const response = await fetch(`${base}/api/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /^process_resident_memory_bytes /m);
    assert.match(text, /^backend_requests_total\{outcome="ok"\} [1-9]\d*$/m);
    assert.match(text, /^backend_requests_total\{outcome="error"\} [1-9]\d*$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/",status_code="200"\} \d+$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status_code="404"\} \d+$/m);
    assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/api\/health",status_code="200"\} \d+$/m);
    assert.deepEqual(labelSets(text, 'http_client_request_duration_seconds_count'), [
      'outcome=error,target=backend',
      'outcome=ok,target=backend',
    ]);
    assert.deepEqual(labelSets(text, 'page_render_duration_seconds_count'), ['route=/']);
    assert.doesNotMatch(text, /abc123|products\/42/);
  });

  test('a page times its backend call as ok and its render', async () => {
    const before = await scrape(`${base}/api/metrics`);
    assert.equal((await fetch(`${base}/`)).status, 200);
    const after = await scrape(`${base}/api/metrics`);
    const ok = { target: 'backend', outcome: 'ok' };
    assert.equal(increase(before, after, 'http_client_request_duration_seconds_count', ok), 1);
    assert.equal(increase(before, after, 'http_client_request_duration_seconds_bucket', { ...ok, le: '+Inf' }), 1);
    assert.ok(increase(before, after, 'http_client_request_duration_seconds_sum', ok) > 0);
    assert.equal(increase(before, after, 'http_client_request_duration_seconds_count', { ...ok, outcome: 'error' }), 0);
    assert.equal(increase(before, after, 'backend_requests_total', { outcome: 'ok' }), 1);
    assert.equal(increase(before, after, 'page_render_duration_seconds_count', { route: '/' }), 1);
    assert.ok(increase(before, after, 'page_render_duration_seconds_sum', { route: '/' }) > 0);
  });

  test('a failed backend call is timed as an error, and the page that says so is rendered', async () => {
    answer = (req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{}');
    };
    const before = await scrape(`${base}/api/metrics`);
    assert.equal((await fetch(`${base}/`)).status, 503);
    const after = await scrape(`${base}/api/metrics`);
    const error = { target: 'backend', outcome: 'error' };
    assert.equal(increase(before, after, 'http_client_request_duration_seconds_count', error), 1);
    assert.equal(increase(before, after, 'http_client_request_duration_seconds_count', { ...error, outcome: 'ok' }), 0);
    assert.equal(increase(before, after, 'backend_requests_total', { outcome: 'error' }), 1);
    assert.equal(increase(before, after, 'page_render_duration_seconds_count', { route: '/' }), 1);
  });
});

describe('METRICS_INSTRUMENTATION', () => {
  test('off: the metrics path answers, with the process metrics, but nothing is counted', async () => {
    const backend = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ items: ITEMS }));
    });
    const app = createApp({ PORT: '0', BACKEND_URL: await listen(backend), METRICS_INSTRUMENTATION: 'off' });
    try {
      const base = await listen(app.server);
      assert.equal((await fetch(`${base}/`)).status, 200);
      const text = await scrape(`${base}/api/metrics`);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);
      assert.deepEqual(labelSets(text, 'http_requests_total'), []);
      assert.equal(sample(text, 'http_client_request_duration_seconds_count', { target: 'backend', outcome: 'ok' }), 0);
      assert.equal(sample(text, 'backend_requests_total', { outcome: 'ok' }), 0);
      assert.equal(sample(text, 'page_render_duration_seconds_count', { route: '/' }), 0);
    } finally {
      backend.closeAllConnections();
      backend.close();
      await app.close();
    }
  });
});

describe('settings', () => {
  test('PORT and BACKEND_URL are required; paths have defaults', () => {
    assert.throws(() => settingsFrom({ BACKEND_URL: 'http://backend:3001' }), /PORT is required/);
    assert.throws(() => settingsFrom({ PORT: '3000' }), /BACKEND_URL is required/);
    assert.throws(() => settingsFrom({ PORT: '3000', BACKEND_URL: 'backend:3001' }), /BACKEND_URL must be an http\(s\) URL/);
    assert.deepEqual(settingsFrom({ PORT: '3000', BACKEND_URL: 'http://backend.davidshaevel.local:3001' }), {
      port: 3000,
      host: '0.0.0.0',
      healthPath: '/api/health',
      metricsPath: '/api/metrics',
      itemsUrl: 'http://backend.davidshaevel.local:3001/api/items',
      instrumented: true,
    });
    assert.equal(settingsFrom({ PORT: '3000', BACKEND_URL: 'http://b:3001', METRICS_INSTRUMENTATION: 'off' }).instrumented, false);
    assert.throws(
      () => settingsFrom({ PORT: '3000', BACKEND_URL: 'http://b:3001', METRICS_INSTRUMENTATION: 'yes' }),
      /^Error: METRICS_INSTRUMENTATION must be on or off \(got "yes"\)$/,
    );
  });
});

function run(env) {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, ...env } });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => (output.stdout += chunk));
  child.stderr.on('data', (chunk) => (output.stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, ...output })));
  return { child, output, exited };
}

describe('node src/server.js', () => {
  test('exits 1 with one line without BACKEND_URL', async () => {
    const { code, stderr } = await run({ PORT: '0' }).exited;
    assert.equal(code, 1);
    assert.equal(stderr, 'frontend: BACKEND_URL is required\n');
  });

  test('exits 0 on SIGTERM', async () => {
    const { child, output, exited } = run({ PORT: '0', HOST: '127.0.0.1', BACKEND_URL: 'http://127.0.0.1:3001' });
    try {
      while (!/listening on/.test(output.stdout)) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(output.stdout, /^frontend listening on http:\/\/127\.0\.0\.1:\d+ \(health \/api\/health, metrics \/api\/metrics; items from http:\/\/127\.0\.0\.1:3001\/api\/items\)\n$/);
      const port = output.stdout.match(/127\.0\.0\.1:(\d+)/)[1];
      // A kept-alive connection must not hold the shutdown open.
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 200);
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.equal(signal, null);
      assert.equal(code, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
