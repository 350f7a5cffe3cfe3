'use strict';
// How the backend and its migrations reach PostgreSQL (from DB_* variables), and the
// queries the API runs. Connections are opened lazily, so the server starts without them.

const fs = require('node:fs');
const { Client, DatabaseError, Pool } = require('pg');
const { CredentialsError, authToken, createCredentialProvider, regionFrom } = require('./rds-auth-token');
const { ConfigError } = require('./skeleton');

// The platform's rule for database names (platform_spec/database.py), so it can go unquoted into search_path.
const SCHEMA_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const SSL_MODES = new Set(['require', 'disable']);

// Every statement the server runs, by the name its metrics carry: a fixed set, never the SQL.
const STATEMENTS = Object.freeze({
  health_check: 'SELECT 1',
  list_items: 'SELECT id, name, description, price FROM items ORDER BY name',
});

// TLS fails closed: with DB_SSLMODE=require the server's certificate and name are verified
// against DB_SSL_ROOT_CERT, and a missing or unreadable bundle stops the process (a broken image
// must not quietly connect to whoever answers at DB_HOST). "disable" is for local tests only.
function tlsSettings(env) {
  const mode = env.DB_SSLMODE || 'require';
  if (!SSL_MODES.has(mode)) {
    throw new ConfigError(`DB_SSLMODE must be require or disable (got ${JSON.stringify(mode)})`);
  }
  if (mode === 'disable') return { ssl: false, description: 'no tls' };
  const caFile = env.DB_SSL_ROOT_CERT;
  if (!caFile) {
    throw new ConfigError('DB_SSLMODE=require needs DB_SSL_ROOT_CERT, the CA bundle that verifies the database server');
  }
  let ca;
  try {
    ca = fs.readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError(`DB_SSL_ROOT_CERT ${caFile} cannot be read (${error.code || error.message}): refusing to connect unverified`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`DB_SSL_ROOT_CERT ${caFile} holds no PEM certificate: refusing to connect unverified`);
  }
  // Node checks the name against the certificate (pg passes the host as servername): verify-full.
  return { ssl: { ca, rejectUnauthorized: true }, description: 'tls verified' };
}

// Settings for pg's Client or Pool, and a description for the startup line.
function connectionSettings(env = process.env, { credentials = createCredentialProvider({ env }) } = {}) {
  const schema = env.DB_SCHEMA || 'app';
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConfigError(`DB_SCHEMA must be lowercase letters, digits or '_' (got ${JSON.stringify(schema)})`);
  }
  const port = env.DB_PORT ? Number(env.DB_PORT) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`DB_PORT must be a port number (got ${JSON.stringify(env.DB_PORT)})`);
  }
  const tls = tlsSettings(env);
  const iamAuth = env.DB_IAM_AUTH === 'true';
  const host = env.DB_HOST || 'localhost';
  const user = env.DB_USER;

  const config = {
    host,
    port,
    database: env.DB_NAME,
    user,
    ssl: tls.ssl,
    // Every session starts in the application schema, so the SQL never names it.
    options: `-c search_path=${schema}`,
    // pg calls this for each new connection (lib/client.js, _getPassword): a fresh token
    // each time, and a token lives 15 minutes while a pooled connection may live longer.
    password: iamAuth
      ? async () =>
          authToken({ hostname: host, port, username: user, region: regionFrom(env), credentials: await credentials() })
      : env.DB_PASSWORD,
  };
  const auth = iamAuth ? 'iam auth' : 'password auth';
  return {
    config,
    schema,
    description: `${user || '(default user)'}@${host}:${port}/${env.DB_NAME || '(default db)'} schema ${schema}, ${auth}, ${tls.description}`,
  };
}

function createPool(settings) {
  const pool = new Pool({
    ...settings.config,
    max: 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    query_timeout: 10_000,
  });
  // An idle connection the server drops (a failover, a restart) must not crash the process.
  pool.on('error', (error) => logDatabaseError('idle connection', error));
  return pool;
}

// One connection (the migrations'); bounded, since an unreachable host would hang for minutes.
function createClient(settings) {
  return new Client({ ...settings.config, connectionTimeoutMillis: 10_000 });
}

class TimeoutError extends Error {}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT']);

// A few words for clients; the details go to the log.
function shortReason(error) {
  const code = error && error.code;
  const message = String((error && error.message) || '');
  if (error instanceof TimeoutError || /timeout/i.test(message)) return 'timeout';
  if (UNREACHABLE.has(code)) return 'unreachable';
  if (code === '28P01' || code === '28000') return 'authentication failed';
  if (code === '42P01') return 'table missing (migrations not run?)';
  if (code === '42501') return 'permission denied';
  if (typeof code === 'string' && (code.includes('CERT') || code.startsWith('ERR_TLS'))) return 'tls failed';
  if (/\b(ssl|tls)\b/i.test(message)) return 'tls failed';
  if (error instanceof CredentialsError || /^authToken:/.test(message)) return 'iam auth token unavailable';
  return 'error';
}

const ERROR_KINDS = Object.freeze(['connection', 'timeout', 'query']);
// SQLSTATEs that refuse the session rather than the statement: connection exceptions (08),
// authorization (28), no such database (3D), shutting down or not yet accepting (57P), too many
// connections (53300).
const SESSION_REFUSED = /^(08|28|3D|57P)|^53300$/;

// The metrics' kind of a failed statement: timeout (no answer in time, connecting or querying),
// query (the database refused the statement) or connection (anything else that kept it from
// the database: refused, unreachable, reset, TLS, sign-in, no IAM token).
function errorKind(error) {
  if (error instanceof DatabaseError) {
    if (error.code === '57014') return 'timeout';
    return SESSION_REFUSED.test(String(error.code)) ? 'connection' : 'query';
  }
  if (error instanceof TimeoutError || /timeout/i.test(String((error && error.message) || ''))) return 'timeout';
  return 'connection';
}

// The log, not the answer, says why: "database: health check: unreachable: connect ECONNREFUSED ...".
function logDatabaseError(context, error) {
  const code = error && error.code ? ` (${error.code})` : '';
  console.error(`database: ${context}: ${shortReason(error)}: ${(error && error.message) || error}${code}`);
}

async function checkDatabase(pool, timeoutMs = 2000) {
  await withTimeout(pool.query(STATEMENTS.health_check), timeoutMs);
}

async function listItems(pool) {
  const result = await pool.query(STATEMENTS.list_items);
  return result.rows;
}

module.exports = {
  ConfigError,
  ERROR_KINDS,
  STATEMENTS,
  checkDatabase,
  connectionSettings,
  createClient,
  createPool,
  errorKind,
  listItems,
  logDatabaseError,
  shortReason,
  withTimeout,
};
