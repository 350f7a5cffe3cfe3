'use strict';
// The HTTP surface with the database out of reach (the server must still start and serve
// metrics), the database metrics against a stub PostgreSQL that answers, refuses or stays
// silent, the switch that turns the instrumentation off, and the process itself: its required
// PORT and its exit on SIGTERM.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { after, before, beforeEach, describe, test } = require('node:test');
const { ConfigError, STATEMENTS } = require('../src/database');
const { createApp } = require('../src/server');
const { labelSets, sample } = require('./metrics-text');
const { startStubPostgres } = require('./stub-postgres');

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

async function scrape(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return response.text();
}

function increase(before, after, name, labels) {
  return sample(after, name, labels) - sample(before, name, labels);
}

const STATEMENT_NAMES = Object.keys(STATEMENTS);
const ERROR_KINDS = ['connection', 'query', 'timeout'];
const POOL_STATES = ['state=idle', 'state=in_use', 'state=waiting'];

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

  test('health answers 503 without saying why (the public edge passes it on), and logs the reason', async () => {
    const response = await fetch(`${base}/api/health`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { status: 'unavailable' });
    assert.ok(logged.some((line) => /^database: health check: unreachable: .*ECONNREFUSED/.test(line)));
  });

  test('items answer 503 JSON', async () => {
    const response = await fetch(`${base}/api/items`);
    assert.equal(response.status, 503);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await response.json(), { error: 'unavailable' });
    assert.ok(logged.some((line) => /^database: items: unreachable: /.test(line)));
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

  test('an unreachable database counts as connection errors of each statement; every series exists at 0 first', async () => {
    const before = await scrape(`${base}/internal/metrics`);
    await fetch(`${base}/api/health`);
    await fetch(`${base}/api/items`);
    const after = await scrape(`${base}/internal/metrics`);
    assert.deepEqual(
      labelSets(after, 'db_query_errors_total'),
      STATEMENT_NAMES.flatMap((statement) => ERROR_KINDS.map((kind) => `kind=${kind},statement=${statement}`)).sort(),
    );
    for (const statement of STATEMENT_NAMES) {
      assert.equal(increase(before, after, 'db_query_errors_total', { statement, kind: 'connection' }), 1, statement);
      assert.equal(increase(before, after, 'db_query_duration_seconds_count', { statement, outcome: 'error' }), 1, statement);
      assert.equal(sample(after, 'db_query_errors_total', { statement, kind: 'timeout' }), 0);
      assert.equal(sample(after, 'db_query_errors_total', { statement, kind: 'query' }), 0);
      assert.equal(sample(after, 'db_query_duration_seconds_count', { statement, outcome: 'ok' }), 0);
    }
    assert.deepEqual(labelSets(after, 'db_pool_connections'), POOL_STATES);
    for (const state of ['in_use', 'idle', 'waiting']) assert.equal(sample(after, 'db_pool_connections', { state }), 0);
  });
});

const ITEMS = { columns: ['id', 'name', 'description', 'price'], rows: [['1', 'Bottled ink', 'Blue-black.', '12.75']] };

describe('backend against a stub PostgreSQL', () => {
  let stub;
  let app;
  let metricsUrl;
  // How the stub answers each statement: answer, refuse or silent.
  const behaviour = {};
  const consoleError = console.error;

  before(async () => {
    console.error = () => {};
    stub = await startStubPostgres({
      answer(sql) {
        const how = sql === STATEMENTS.health_check ? behaviour.health_check : behaviour.list_items;
        if (how === 'silent') return null;
        if (how === 'refuse') return { error: { code: '42P01', text: 'relation "items" does not exist' } };
        return sql === STATEMENTS.health_check ? { columns: ['?column?'], rows: [['1']] } : ITEMS;
      },
    });
    app = createApp({ PORT: '0', DB_HOST: '127.0.0.1', DB_PORT: String(stub.server.address().port), DB_SSLMODE: 'disable' });
    metricsUrl = `${await listen(app)}/api/metrics`;
  });
  beforeEach(() => Object.assign(behaviour, { health_check: 'answer', list_items: 'answer' }));
  after(async () => {
    console.error = consoleError;
    await app.close();
    await stub.close();
  });

  test('health answers 200 with its status only: nothing about the database reaches the edge', async () => {
    const response = await fetch(metricsUrl.replace('/api/metrics', '/api/health'));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  test('an answered statement is timed as ok, and its connection goes back to the pool idle', async () => {
    const before = await scrape(metricsUrl);
    const response = await fetch(metricsUrl.replace('/api/metrics', '/api/items'));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      items: [{ id: '1', name: 'Bottled ink', description: 'Blue-black.', price: '12.75' }],
    });
    const after = await scrape(metricsUrl);
    assert.equal(increase(before, after, 'db_query_duration_seconds_count', { statement: 'list_items', outcome: 'ok' }), 1);
    assert.equal(increase(before, after, 'db_query_duration_seconds_bucket', { statement: 'list_items', outcome: 'ok', le: '+Inf' }), 1);
    assert.ok(increase(before, after, 'db_query_duration_seconds_sum', { statement: 'list_items', outcome: 'ok' }) > 0);
    for (const kind of ERROR_KINDS) assert.equal(increase(before, after, 'db_query_errors_total', { statement: 'list_items', kind }), 0);
    assert.equal(sample(after, 'db_pool_connections', { state: 'in_use' }), 0);
    assert.equal(sample(after, 'db_pool_connections', { state: 'idle' }), 1);
    assert.equal(sample(after, 'db_pool_connections', { state: 'waiting' }), 0);
  });

  test('a statement the database refuses counts as a query error', async () => {
    behaviour.list_items = 'refuse';
    const before = await scrape(metricsUrl);
    const response = await fetch(metricsUrl.replace('/api/metrics', '/api/items'));
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { error: 'unavailable' });
    const after = await scrape(metricsUrl);
    assert.equal(increase(before, after, 'db_query_errors_total', { statement: 'list_items', kind: 'query' }), 1);
    assert.equal(increase(before, after, 'db_query_errors_total', { statement: 'list_items', kind: 'connection' }), 0);
    assert.equal(increase(before, after, 'db_query_duration_seconds_count', { statement: 'list_items', outcome: 'error' }), 1);
    assert.equal(increase(before, after, 'db_query_duration_seconds_count', { statement: 'health_check', outcome: 'error' }), 0);
  });

  test('unanswered statements count as timeouts, and the pool shows connections in use and requests waiting', async () => {
    behaviour.health_check = 'silent';
    const max = app.pool.options.max;
    const before = await scrape(metricsUrl);
    const asked = stub.queries.length;
    const healthUrl = metricsUrl.replace('/api/metrics', '/api/health');
    const checks = Array.from({ length: max + 1 }, () => fetch(healthUrl));
    while (stub.queries.length - asked < max) await new Promise((resolve) => setTimeout(resolve, 20));
    const during = await scrape(metricsUrl);
    assert.equal(sample(during, 'db_pool_connections', { state: 'in_use' }), max);
    assert.equal(sample(during, 'db_pool_connections', { state: 'idle' }), 0);
    assert.equal(sample(during, 'db_pool_connections', { state: 'waiting' }), 1);
    for (const response of await Promise.all(checks)) {
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { status: 'unavailable' });
    }
    const after = await scrape(metricsUrl);
    assert.equal(increase(before, after, 'db_query_errors_total', { statement: 'health_check', kind: 'timeout' }), max + 1);
    assert.equal(increase(before, after, 'db_query_duration_seconds_count', { statement: 'health_check', outcome: 'error' }), max + 1);
    // The late answers hand every connection back, and the request that waited gets one.
    behaviour.health_check = 'answer';
    stub.answerPending();
    while (app.pool.waitingCount > 0 || app.pool.idleCount < app.pool.totalCount) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe('METRICS_INSTRUMENTATION', () => {
  test('off: the metrics path answers, with the process metrics and the pool, but nothing is counted', async () => {
    const app = createApp({
      PORT: '0',
      DB_HOST: '127.0.0.1',
      DB_PORT: String(await closedPort()),
      DB_SSLMODE: 'disable',
      METRICS_INSTRUMENTATION: 'off',
    });
    const consoleError = console.error;
    console.error = () => {};
    try {
      const base = await listen(app);
      assert.equal((await fetch(`${base}/api/health`)).status, 503);
      assert.equal((await fetch(`${base}/api/items`)).status, 503);
      const text = await scrape(`${base}/api/metrics`);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);
      assert.deepEqual(labelSets(text, 'db_pool_connections'), POOL_STATES);
      assert.deepEqual(labelSets(text, 'http_requests_total'), []);
      for (const statement of STATEMENT_NAMES) {
        assert.equal(sample(text, 'db_query_duration_seconds_count', { statement, outcome: 'error' }), 0);
        assert.equal(sample(text, 'db_query_errors_total', { statement, kind: 'connection' }), 0);
      }
    } finally {
      console.error = consoleError;
      await app.close();
    }
  });

  test('anything but on or off is refused in one line', () => {
    assert.throws(
      () => createApp({ PORT: '0', METRICS_INSTRUMENTATION: 'false' }),
      (error) => error instanceof ConfigError && error.message === 'METRICS_INSTRUMENTATION must be on or off (got "false")',
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
  test('exits 1 with one line without PORT', async () => {
    const { code, stdout, stderr } = await run({}).exited;
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr, 'backend: PORT is required\n');
  });

  test('refuses to start, in one line, when TLS to the database cannot be verified', async () => {
    const absent = path.join(__dirname, 'no-such-bundle.pem');
    const cases = [
      [{}, 'backend: DB_SSLMODE=require needs DB_SSL_ROOT_CERT, the CA bundle that verifies the database server\n'],
      [
        { DB_SSL_ROOT_CERT: absent },
        `backend: DB_SSL_ROOT_CERT ${absent} cannot be read (ENOENT): refusing to connect unverified\n`,
      ],
    ];
    for (const [env, line] of cases) {
      const { child, output, exited } = run({ PORT: '0', HOST: '127.0.0.1', DB_SSLMODE: 'require', ...env });
      // A server that starts anyway would never exit: wait 5 s at most, then stop it.
      const stopped = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000, null))]);
      child.kill('SIGKILL');
      assert.ok(stopped, `it started: ${output.stdout}${output.stderr}`);
      assert.equal(stopped.code, 1);
      assert.equal(stopped.stdout, '');
      assert.equal(stopped.stderr, line);
    }
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
      assert.deepEqual(await response.json(), { status: 'unavailable' });
      assert.match(output.stderr, /^database: health check: timeout: /m);
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
