'use strict';
// The release's smoke tests (`npm run test:e2e` on the frontend image): the API answers and
// reaches its database (its health answers 200), the public page shows the API's items, and the
// edge hides the internal paths. API_URL is the backend's base URL, WEB_URL the public one; INTERNAL_PATHS
// (optional) is a comma-separated list of paths that must answer 404 through WEB_URL.

const ATTEMPTS = 3;
const RETRY_DELAY_MS = 2000;
const REQUEST_TIMEOUT_MS = 10_000;

const { escapeHtml } = require('../src/page');

class CheckFailed extends Error {}

function expect(condition, reason) {
  if (!condition) throw new CheckFailed(reason);
}

async function get(url) {
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, contentType: response.headers.get('content-type') || '', text: await response.text() };
}

function json(response, what) {
  try {
    return JSON.parse(response.text);
  } catch {
    throw new CheckFailed(`${what} is not JSON`);
  }
}

function describe(error) {
  if (error instanceof CheckFailed) return error.message;
  if (error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  // fetch's own message is "fetch failed"; the reason is in its cause.
  return error.cause ? `${error.message}: ${error.cause.code || error.cause.message}` : error.message;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runSmokeTests({ apiUrl, webUrl, internalPaths = [], retryDelayMs = RETRY_DELAY_MS, log = console.log }) {
  const api = apiUrl.replace(/\/+$/, '');
  const web = webUrl.replace(/\/+$/, '');
  let failed = 0;

  async function check(name, body) {
    let lastError;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
      if (attempt > 1) await sleep(retryDelayMs);
      try {
        await body();
        log(`ok ${name}`);
        return true;
      } catch (error) {
        lastError = error;
      }
    }
    failed += 1;
    log(`FAILED ${name}: ${describe(lastError)}`);
    return false;
  }

  await check('api health', async () => {
    const response = await get(`${api}/api/health`);
    // 200 is the backend's word that its database answered; the body says no more (it reaches the public edge).
    expect(response.status === 200, `${api}/api/health answered ${response.status}`);
    const status = json(response, 'the health answer').status;
    expect(status === 'ok', `its status is ${JSON.stringify(status)}`);
  });

  let firstName;
  await check('api items', async () => {
    const response = await get(`${api}/api/items`);
    expect(response.status === 200, `${api}/api/items answered ${response.status}`);
    const { items } = json(response, 'the items answer');
    expect(Array.isArray(items) && items.length > 0, 'no items');
    expect(typeof items[0].name === 'string', 'the first item has no name');
    firstName = items[0].name;
  });

  await check('web page', async () => {
    expect(firstName !== undefined, 'no item name to look for (api items failed)');
    const response = await get(`${web}/`);
    expect(response.status === 200, `${web}/ answered ${response.status}`);
    expect(response.contentType.startsWith('text/html'), `${web}/ is ${response.contentType || 'untyped'}, not html`);
    expect(response.text.includes(escapeHtml(firstName)), `${web}/ does not show ${JSON.stringify(firstName)}`);
  });

  for (const path of internalPaths) {
    await check(`internal ${path}`, async () => {
      const response = await get(`${web}${path}`);
      expect(response.status === 404, `${web}${path} answered ${response.status}, not 404`);
    });
  }

  return failed === 0 ? 0 : 1;
}

function internalPathsFrom(value) {
  return (value || '')
    .split(',')
    .map((path) => path.trim())
    .filter(Boolean)
    .map((path) => (path.startsWith('/') ? path : `/${path}`));
}

async function main(env = process.env, options = {}) {
  const missing = ['API_URL', 'WEB_URL'].filter((name) => !env[name]);
  if (missing.length > 0) {
    console.error(`smoke tests: ${missing.join(' and ')} must be set`);
    return 2;
  }
  return runSmokeTests({
    apiUrl: env.API_URL,
    webUrl: env.WEB_URL,
    internalPaths: internalPathsFrom(env.INTERNAL_PATHS),
    ...options,
  });
}

if (require.main === module) {
  main().then((status) => {
    process.exitCode = status;
  });
}

module.exports = { internalPathsFrom, main, runSmokeTests };
