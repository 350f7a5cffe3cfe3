'use strict';
// Tokens against fixed vectors (botocore's output; tests/unit/test_rds_auth_token.py compares
// live against botocore) and the credential provider against a stub ECS endpoint.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { authToken, createCredentialProvider, regionFrom, CredentialsError } = require('../src/rds-auth-token');

describe('authToken', () => {
  test('matches botocore without a session token', () => {
    const token = authToken({
      hostname: 'prod.cluster-abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      username: 'backend',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      date: new Date('2025-01-02T03:04:05Z'),
    });
    assert.equal(
      token,
      'prod.cluster-abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=backend' +
        '&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250102%2Feu-west-1%2Frds-db%2Faws4_request' +
        '&X-Amz-Date=20250102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=a2bbcd341cb03a35078f8b85ccfb6659b5e177fbc06327d68bd1e7cbb7535072',
    );
  });

  test('matches botocore with a session token, an encoded user and a mixed-case host', () => {
    const token = authToken({
      hostname: 'Db.Example.us-east-1.rds.amazonaws.com',
      port: '5432',
      username: 'back end+x',
      region: 'us-east-1',
      credentials: {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalr/K7MDENG+bPxRfiCYEXAMPLEKEY',
        sessionToken: 'tok/en+==',
      },
      date: new Date('2024-02-29T23:59:59Z'),
    });
    assert.equal(
      token,
      'Db.Example.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=back%20end%2Bx' +
        '&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240229%2Fus-east-1%2Frds-db%2Faws4_request' +
        '&X-Amz-Date=20240229T235959Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen%2B%3D%3D' +
        '&X-Amz-Signature=91c507fbf93457d807dbeb9edc785c674e737186fb04feeeea7570c18bc69393',
    );
  });

  test('refuses missing inputs', () => {
    assert.throws(
      () => authToken({ hostname: 'h', port: 5432, username: 'u', region: 'r', credentials: {} }),
      /credentials.accessKeyId is required/,
    );
    assert.throws(() => authToken({ hostname: 'h', port: 5432, region: 'r', credentials: {} }), /username is required/);
  });
});

describe('regionFrom', () => {
  test('prefers AWS_REGION, then AWS_DEFAULT_REGION, else fails', () => {
    assert.equal(regionFrom({ AWS_REGION: 'a', AWS_DEFAULT_REGION: 'b' }), 'a');
    assert.equal(regionFrom({ AWS_DEFAULT_REGION: 'b' }), 'b');
    assert.throws(() => regionFrom({}), CredentialsError);
  });
});

describe('createCredentialProvider', () => {
  let server;
  let base;
  let requests = [];
  let answer = () => ({ status: 200, body: {} });

  before(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      const { status, body } = answer(req);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());

  const ecsCredentials = (expiration) => ({
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    Token: 'session-token',
    Expiration: expiration,
    RoleArn: 'arn:aws:iam::123456789012:role/task',
  });

  test('reads the environment first', async () => {
    const credentials = createCredentialProvider({
      env: { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'SECRET', AWS_SESSION_TOKEN: 'TOKEN' },
    });
    assert.deepEqual(await credentials(), { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' });
  });

  test('refuses half the environment pair, and says what to set when nothing is found', async () => {
    await assert.rejects(createCredentialProvider({ env: { AWS_ACCESS_KEY_ID: 'AKID' } })(), /must be set together/);
    await assert.rejects(createCredentialProvider({ env: {} })(), /no AWS credentials: set AWS_ACCESS_KEY_ID/);
  });

  test('fetches the relative URI from ECS and caches until 5 minutes before expiry', async () => {
    requests = [];
    const expiration = '2030-01-01T01:00:00Z';
    answer = () => ({ status: 200, body: ecsCredentials(expiration) });
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const credentials = createCredentialProvider({
      env: { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc' },
      endpointBase: base,
      now: () => clock,
    });
    const [first, second] = await Promise.all([credentials(), credentials()]);
    assert.equal(first.accessKeyId, 'ASIAEXAMPLE');
    assert.equal(first.sessionToken, 'session-token');
    assert.equal(second, first);
    assert.deepEqual(requests, [{ url: '/v2/credentials/abc', authorization: undefined }]);

    clock = Date.parse('2030-01-01T00:54:59Z');
    await credentials();
    assert.equal(requests.length, 1);
    clock = Date.parse('2030-01-01T00:55:01Z');
    await credentials();
    assert.equal(requests.length, 2);
  });

  test('sends the authorization token to the full URI, the file before the variable', async () => {
    requests = [];
    answer = () => ({ status: 200, body: ecsCredentials('2030-01-01T01:00:00Z') });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'token-')), 'token');
    fs.writeFileSync(file, 'from-file\n');
    const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/full`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'from-variable' };
    await createCredentialProvider({ env })();
    await createCredentialProvider({ env: { ...env, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file } })();
    assert.deepEqual(requests, [
      { url: '/full', authorization: 'from-variable' },
      { url: '/full', authorization: 'from-file' },
    ]);
  });

  test('refuses a plain-http full URI off the host', async () => {
    const credentials = createCredentialProvider({ env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://example.com/creds' } });
    await assert.rejects(credentials(), /must be https, or http to a loopback/);
  });

  test('gives up at once on a refusal and after three tries on a server error', async () => {
    for (const [status, tries] of [
      [403, 1],
      [500, 3],
    ]) {
      requests = [];
      answer = () => ({ status, body: { message: 'no' } });
      const credentials = createCredentialProvider({
        env: { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc' },
        endpointBase: base,
      });
      await assert.rejects(credentials(), new RegExp(`answered ${status}`));
      assert.equal(requests.length, tries);
    }
  });
});
