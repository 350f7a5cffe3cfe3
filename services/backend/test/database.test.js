'use strict';
// Connection settings from DB_* variables; against a stub that speaks just enough of
// PostgreSQL's protocol, that pg asks for a fresh IAM token on every new connection; and the
// words failures are reported in.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test } = require('node:test');
const { DatabaseError } = require('pg');
const { CredentialsError } = require('../src/rds-auth-token');
const { ConfigError, connectionSettings, createPool, errorKind, shortReason, withTimeout } = require('../src/database');
const { startStubPostgres } = require('./stub-postgres');

const AWS = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'SECRET', AWS_REGION: 'us-east-1' };
// What a bundle looks like to the check (the certificate itself is never parsed here).
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('connectionSettings', () => {
  test('defaults: schema app in search_path, verified TLS, password from DB_PASSWORD', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ca-')), 'ca.pem');
    fs.writeFileSync(file, PEM);
    const env = { DB_HOST: 'db', DB_USER: 'backend', DB_PASSWORD: 'pw', DB_SSL_ROOT_CERT: file };
    const { config, schema, description } = connectionSettings(env);
    assert.equal(schema, 'app');
    assert.equal(config.options, '-c search_path=app');
    assert.deepEqual(config.ssl, { ca: PEM, rejectUnauthorized: true });
    assert.equal(config.password, 'pw');
    assert.equal(config.port, 5432);
    assert.match(description, /password auth, tls verified/);
    assert.equal(connectionSettings({ DB_SSLMODE: 'disable', DB_SSL_ROOT_CERT: file }).config.ssl, false);
  });

  test('TLS fails closed: no bundle, a missing, unreadable or empty one refuses to start', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-'));
    const empty = path.join(dir, 'empty.pem');
    fs.writeFileSync(empty, '');
    const refusals = [
      [{}, /^DB_SSLMODE=require needs DB_SSL_ROOT_CERT/],
      [{ DB_SSLMODE: 'require' }, /^DB_SSLMODE=require needs DB_SSL_ROOT_CERT/],
      [{ DB_SSL_ROOT_CERT: path.join(dir, 'absent.pem') }, /absent\.pem cannot be read \(ENOENT\): refusing to connect unverified$/],
      [{ DB_SSL_ROOT_CERT: dir }, /cannot be read \(EISDIR\): refusing to connect unverified$/],
      [{ DB_SSL_ROOT_CERT: empty }, /empty\.pem holds no PEM certificate: refusing to connect unverified$/],
    ];
    for (const [env, message] of refusals) {
      assert.throws(
        () => connectionSettings(env),
        (error) => error instanceof ConfigError && message.test(error.message) && !error.message.includes('\n'),
        JSON.stringify(env),
      );
    }
  });

  test('refuses settings it cannot honour', () => {
    for (const env of [{ DB_SSLMODE: 'prefer' }, { DB_SCHEMA: 'App; drop' }, { DB_PORT: 'x' }]) {
      assert.throws(() => connectionSettings(env), ConfigError);
    }
  });

  test('with DB_IAM_AUTH the password is a token for DB_USER at DB_HOST:DB_PORT', async () => {
    const { config } = connectionSettings({ ...AWS, DB_IAM_AUTH: 'true', DB_HOST: 'db.example', DB_PORT: '5433', DB_USER: 'backend', DB_SSLMODE: 'disable' });
    const token = await config.password();
    assert.match(token, /^db\.example:5433\/\?Action=connect&DBUser=backend&X-Amz-Algorithm=AWS4-HMAC-SHA256&/);
    assert.match(token, /X-Amz-Credential=AKID%2F\d{8}%2Fus-east-1%2Frds-db%2Faws4_request/);
  });
});

describe('a pool with IAM authentication', () => {
  test('asks for a token for each new connection and starts each in the schema', async () => {
    const stub = await startStubPostgres({ askPassword: true });
    const { server, seen } = stub;
    let asked = 0;
    const credentials = async () => {
      asked += 1;
      return { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: `session-${asked}` };
    };
    const env = {
      AWS_REGION: 'eu-west-1',
      DB_IAM_AUTH: 'true',
      DB_HOST: '127.0.0.1',
      DB_PORT: String(server.address().port),
      DB_NAME: 'shop',
      DB_USER: 'backend',
      DB_SCHEMA: 'catalogue',
      DB_SSLMODE: 'disable',
    };
    const pool = createPool(connectionSettings(env, { credentials }));
    try {
      const clients = await Promise.all([pool.connect(), pool.connect()]);
      clients.forEach((client) => client.release());
      assert.equal(asked, 2);
      assert.equal(seen.length, 2);
      for (const { parameters, password } of seen) {
        assert.equal(parameters.user, 'backend');
        assert.equal(parameters.database, 'shop');
        assert.equal(parameters.options, '-c search_path=catalogue');
        assert.match(password, new RegExp(`^127\\.0\\.0\\.1:${env.DB_PORT}/\\?Action=connect&DBUser=backend&`));
      }
      assert.deepEqual(
        seen.map(({ password }) => password.match(/X-Amz-Security-Token=([^&]+)/)[1]).sort(),
        ['session-1', 'session-2'],
      );
    } finally {
      await pool.end();
      await stub.close();
    }
  });
});

describe('shortReason', () => {
  test('names the failure in a few words', async () => {
    const timedOut = await withTimeout(new Promise(() => {}), 10).catch((error) => error);
    assert.equal(shortReason(timedOut), 'timeout');
    assert.equal(shortReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'unreachable');
    assert.equal(shortReason(Object.assign(new Error('password authentication failed'), { code: '28P01' })), 'authentication failed');
    assert.equal(shortReason(Object.assign(new Error('bad cert'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })), 'tls failed');
    assert.equal(shortReason(new Error('something else')), 'error');
  });
});

function databaseError(code, text) {
  return Object.assign(new DatabaseError(text, text.length, 'error'), { code });
}

describe('errorKind', () => {
  test('sorts failures into connection, timeout and query, as the metrics count them', async () => {
    const timedOut = await withTimeout(new Promise(() => {}), 10).catch((error) => error);
    const kinds = [
      [databaseError('42P01', 'relation "items" does not exist'), 'query'],
      [databaseError('42501', 'permission denied for table items'), 'query'],
      [databaseError('57014', 'canceling statement due to statement timeout'), 'timeout'],
      [databaseError('28P01', 'password authentication failed for user "backend"'), 'connection'],
      [databaseError('3D000', 'database "shop" does not exist'), 'connection'],
      [databaseError('57P03', 'the database system is starting up'), 'connection'],
      [databaseError('53300', 'too many connections for role "backend"'), 'connection'],
      [timedOut, 'timeout'],
      [new Error('timeout exceeded when trying to connect'), 'timeout'],
      [new Error('Query read timeout'), 'timeout'],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'connection'],
      [new Error('Connection terminated unexpectedly'), 'connection'],
      [new CredentialsError('no AWS credentials'), 'connection'],
    ];
    for (const [error, kind] of kinds) assert.equal(errorKind(error), kind, error.message);
  });
});
