'use strict';
// Applies migrations/*.sql in name order, each once, as the migrator (DB_* variables, like
// the server). Forward-only: an older image's run sees newer rows it has no file for and
// leaves them be, which is what makes a roll-back's migrations step a no-op.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ConfigError, connectionSettings, createClient } = require('../src/database');

const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');
// Any fixed number: runners in the same database wait for each other on it.
const LOCK_KEY = '7406052913';

class ChangedMigrationError extends Error {}

function checksum(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

// [{name, sql, checksum}] of the directory's .sql files, in byte order of their names.
function readMigrations(dir = MIGRATIONS_DIR) {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name));
      return { name, sql: bytes.toString('utf8'), checksum: checksum(bytes) };
    });
}

// What to do with each file, given the applied rows; refuses before anything runs if an
// applied file changed, since its change would never reach a database that already ran it.
function plan(migrations, applied) {
  const checksums = new Map(applied.map((row) => [row.name, row.checksum]));
  return migrations.map((migration) => {
    if (!checksums.has(migration.name)) return { migration, action: 'apply' };
    if (checksums.get(migration.name) !== migration.checksum) {
      throw new ChangedMigrationError(
        `refusing to migrate: ${migration.name} changed after it was applied (add a new migration instead)`,
      );
    }
    return { migration, action: 'skip' };
  });
}

async function migrate(client, schema, migrations, log = console.log) {
  const table = `"${schema}".schema_migrations`;
  // A session lock: held across the transactions below, released when the session ends.
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
         name text PRIMARY KEY,
         checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query(`SELECT name, checksum FROM ${table}`);
    for (const { migration, action } of plan(migrations, rows)) {
      if (action === 'skip') {
        log(`already applied ${migration.name}`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${table} (name, checksum) VALUES ($1, $2)`, [migration.name, migration.checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        error.message = `failed ${migration.name}: ${error.message}`;
        throw error;
      }
      log(`applied ${migration.name}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
  }
}

async function main(env = process.env) {
  let client;
  try {
    const settings = connectionSettings(env);
    const migrations = readMigrations();
    client = createClient(settings);
    // A connection lost between queries is reported through the failing query below.
    client.on('error', () => {});
    await client.connect();
    await migrate(client, settings.schema, migrations);
    return 0;
  } catch (error) {
    const known = error instanceof ConfigError || error instanceof ChangedMigrationError;
    const code = !known && error.code ? ` (${error.code})` : '';
    console.error(known || /^failed /.test(error.message) ? `${error.message}${code}` : `migrations: ${error.message}${code}`);
    return 1;
  } finally {
    if (client) await client.end().catch(() => {});
  }
}

if (require.main === module) {
  main().then((status) => {
    process.exitCode = status;
  });
}

module.exports = { ChangedMigrationError, checksum, migrate, plan, readMigrations };
