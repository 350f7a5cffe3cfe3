'use strict';
// The HTTP surface with the database out of reach (the server must still start and serve
// metrics), and the process itself: its required PORT and its exit on SIGTERM.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { createApp } = require('../src/server');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');

// A port nothing listens on: connections to it are refused at once.
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listen(app) {
  await new Promise((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${app.server.address().port}`;
}

describe('backend with the database unreachable', () => {
  let app;
  let base;
  const logged = [];
  const consoleError = console.error;

  before(async () => {
    console.error = (line) => logged.push(line);
    app = createApp({
      PORT: '0',
      DB_HOST: '127.0.0.1',
      DB_PORT: String(await closedPort()),
      DB_SSLMODE: 'disable',
      METRICS_PATH: '/internal/metrics',
    });
    base = await listen(app);
  });
  after(async () => {
    console.error = consoleError;
    await app.close();
  });

  test('health answers 503 with a short reason, and logs the failure', async () => {
    const response = await fetch(`${base}/api/health`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { status: 'unavailable', database: 'unreachable' });
    assert.ok(logged.some((line) => /^database: health check: .*ECONNREFUSED/.test(line)));
  });

  test('items answer 503 JSON', async () => {
    const response = await fetch(`${base}/api/items`);
    assert.equal(response.status, 503);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await response.json(), { error: 'database unavailable', database: 'unreachable' });
  });

  test('unknown paths answer 404 JSON, other methods 405', async () => {
    const missing = await fetch(`${base}/api/nothing`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'not found' });
    const posted = await fetch(`${base}/api/items`, { method: 'POST', body: '{}' });
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get('allow'), 'GET, HEAD');
  });

  test('HEAD answers like GET, without a body', async () => {
    const response = await fetch(`${base}/api/nothing`, { method: 'HEAD' });
    assert.equal(response.status, 404);
    assert.equal(await response.text(), '');
  });

  test('metrics label requests by route pattern, never by raw URL', async () => {
    await fetch(`${base}/api/items?token=abc123`);
    await fetch(`${base}/users/42/secret`);
    const response = await fetch(`${base}/internal/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/api\/items",status_code="503"\} \d+$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status_code="404"\} \d+$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/api\/health",status_code="503"\} 1$/m);
    assert.doesNotMatch(text, /abc123|users\/42/);
    // The default metrics path is just another unknown path once METRICS_PATH moves it.
    assert.equal((await fetch(`${base}/api/metrics`)).status, 404);
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
  test('exits 1 with one line without PORT', async () => {
    const { code, stdout, stderr } = await run({}).exited;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr, 'backend: PORT is required\n');
  });

  test('finishes an in-flight request on SIGTERM, then exits 0', async () => {
    // A database that accepts connections and never answers: the health check takes its 2 s.
    const sockets = new Set();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { child, output, exited } = run({
      PORT: '0',
      HOST: '127.0.0.1',
      DB_HOST: '127.0.0.1',
      DB_PORT: String(silent.address().port),
      DB_SSLMODE: 'disable',
    });
    try {
      while (!/listening on/.test(output.stdout)) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(output.stdout, /^backend listening on http:\/\/127\.0\.0\.1:\d+ \(health \/api\/health, metrics \/api\/metrics; database /);
      const port = output.stdout.match(/127\.0\.0\.1:(\d+)/)[1];
      const pending = fetch(`http://127.0.0.1:${port}/api/health`);
      while (sockets.size === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      child.kill('SIGTERM');
      const response = await pending;
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { status: 'unavailable', database: 'timeout' });
      // The pool's attempt ends when the database goes away; then the process can.
      for (const socket of sockets) socket.destroy();
      const { code, signal } = await exited;
      assert.equal(signal, null);
      assert.equal(code, 0);
      assert.match(output.stdout, /backend stopping on SIGTERM\n$/);
    } finally {
      child.kill('SIGKILL');
      silent.close();
    }
  });
});
