'use strict';
// The smoke tests against stub API and web servers: passing, failing, retrying, and run as
// the release runs them (a process whose exit code is the verdict).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const { after, before, beforeEach, describe, test } = require('node:test');
const { internalPathsFrom, main, runSmokeTests } = require('../scripts/smoke-test');

const SCRIPT = path.join(__dirname, '..', 'scripts', 'smoke-test.js');

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

describe('smoke tests', () => {
  let api;
  let web;
  let apiUrl;
  let webUrl;
  let state;

  before(async () => {
    api = http.createServer((req, res) => {
      state.apiRequests += 1;
      if (req.url === '/api/health') {
        state.healthAnswers += 1;
        json(res, state.healthAnswers > state.healthFailures ? 200 : 503, { status: 'ok' });
      } else if (req.url === '/api/items') {
        json(res, 200, { items: state.items });
      } else {
        json(res, 404, { error: 'not found' });
      }
    });
    web = http.createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<ul data-items="1"><li>${state.pageShows}</li></ul>`);
      } else if (state.exposed.includes(req.url)) {
        json(res, 200, {});
      } else {
        json(res, 404, { error: 'not found' });
      }
    });
    apiUrl = await listen(api);
    webUrl = await listen(web);
  });
  beforeEach(() => {
    state = {
      apiRequests: 0,
      healthAnswers: 0,
      healthFailures: 0,
      items: [{ name: 'Tea & biscuits' }],
      pageShows: 'Tea &amp; biscuits',
      exposed: [],
    };
  });
  after(() => {
    api.close();
    web.close();
  });

  test('pass: every check ok, exit status 0', async () => {
    const lines = [];
    const status = await runSmokeTests({
      apiUrl,
      webUrl: `${webUrl}/`,
      internalPaths: ['/api/metrics', '/grafana'],
      retryDelayMs: 10,
      log: (line) => lines.push(line),
    });
    assert.equal(status, 0);
    assert.deepEqual(lines, ['ok api health', 'ok api items', 'ok web page', 'ok internal /api/metrics', 'ok internal /grafana']);
  });

  test('retries a check up to 3 times', async () => {
    state.healthFailures = 2;
    const lines = [];
    assert.equal(await runSmokeTests({ apiUrl, webUrl, retryDelayMs: 10, log: (line) => lines.push(line) }), 0);
    assert.equal(state.healthAnswers, 3);
    assert.equal(lines[0], 'ok api health');
  });

  test('fail: names each failed check and its reason, exit status 1', async () => {
    state.healthFailures = 3;
    state.pageShows = 'something else';
    state.exposed = ['/api/metrics'];
    const lines = [];
    const status = await runSmokeTests({
      apiUrl,
      webUrl,
      internalPaths: ['/api/metrics'],
      retryDelayMs: 10,
      log: (line) => lines.push(line),
    });
    assert.equal(status, 1);
    assert.deepEqual(lines, [
      `FAILED api health: ${apiUrl}/api/health answered 503`,
      'ok api items',
      `FAILED web page: ${webUrl}/ does not show "Tea & biscuits"`,
      `FAILED internal /api/metrics: ${webUrl}/api/metrics answered 200, not 404`,
    ]);
  });

  test('fail: an API without items, and one that is down', async () => {
    state.items = [];
    const lines = [];
    assert.equal(await runSmokeTests({ apiUrl, webUrl, retryDelayMs: 10, log: (line) => lines.push(line) }), 1);
    assert.deepEqual(lines.slice(1), ['FAILED api items: no items', 'FAILED web page: no item name to look for (api items failed)']);

    lines.length = 0;
    const closed = http.createServer();
    const closedUrl = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    await runSmokeTests({ apiUrl: closedUrl, webUrl, retryDelayMs: 10, log: (line) => lines.push(line) });
    assert.match(lines[0], /^FAILED api health: fetch failed: ECONNREFUSED$/);
  });

  test('INTERNAL_PATHS is a comma-separated list', () => {
    assert.deepEqual(internalPathsFrom(' /api/metrics, grafana ,,'), ['/api/metrics', '/grafana']);
    assert.deepEqual(internalPathsFrom(undefined), []);
  });

  test('main: exit 2 on a missing URL, else the checks\' status', async () => {
    const consoleError = console.error;
    const errors = [];
    console.error = (line) => errors.push(line);
    try {
      assert.equal(await main({ WEB_URL: webUrl }), 2);
    } finally {
      console.error = consoleError;
    }
    assert.deepEqual(errors, ['smoke tests: API_URL must be set']);
    state.healthFailures = 3;
    assert.equal(await main({ API_URL: apiUrl, WEB_URL: webUrl }, { retryDelayMs: 10, log: () => {} }), 1);
  });

  test('as a process: prints one line per check and exits 0', async () => {
    const child = spawn(process.execPath, [SCRIPT], {
      env: { PATH: process.env.PATH, API_URL: apiUrl, WEB_URL: webUrl, INTERNAL_PATHS: '/api/metrics' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(stdout, 'ok api health\nok api items\nok web page\nok internal /api/metrics\n');
    assert.equal(code, 0);
  });

  test('as a process: exits 2 with one line when WEB_URL is missing', async () => {
    const child = spawn(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH, API_URL: apiUrl } });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(stderr, 'smoke tests: WEB_URL must be set\n');
    assert.equal(code, 2);
  });
});
