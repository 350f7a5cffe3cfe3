'use strict';
// The migration runner's ordering, checksums and transactions, with a recording client in
// place of PostgreSQL (a real server runs them in the Python suite).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test } = require('node:test');
const { ChangedMigrationError, checksum, migrate, plan, readMigrations } = require('../scripts/run-migrations');

function directory(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

// Answers the runner's queries like PostgreSQL would, recording them.
function recordingClient({ applied = [], failOn } = {}) {
  const queries = [];
  return {
    queries,
    async query(text, values) {
      queries.push(values ? `${text.replace(/\s+/g, ' ').trim()} ${JSON.stringify(values)}` : text.replace(/\s+/g, ' ').trim());
      if (failOn && text.includes(failOn)) throw new Error('syntax error');
      if (/^SELECT name, checksum/.test(text)) return { rows: applied };
      return { rows: [] };
    },
  };
}

describe('readMigrations', () => {
  test('reads the .sql files in name order with their sha256', () => {
    const dir = directory({ '010_c.sql': 'C', '002_b.sql': 'B', '001_a.sql': 'A', 'README.md': 'not a migration' });
    const migrations = readMigrations(dir);
    assert.deepEqual(
      migrations.map((m) => m.name),
      ['001_a.sql', '002_b.sql', '010_c.sql'],
    );
    assert.equal(migrations[0].checksum, '559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd');
    assert.equal(migrations[0].checksum, checksum('A'));
  });

  test('the shipped migrations create the items table, then seed it', () => {
    const migrations = readMigrations();
    assert.deepEqual(
      migrations.map((m) => m.name),
      ['001_create_items.sql', '002_seed_items.sql'],
    );
    assert.match(migrations[0].sql, /CREATE TABLE items/);
    assert.match(migrations[1].sql, /ON CONFLICT DO NOTHING/);
    // Unqualified names: the schema comes from the session's search_path.
    for (const { sql } of migrations) assert.doesNotMatch(sql, /\bapp\./);
  });
});

describe('plan', () => {
  const migrations = [
    { name: '001_a.sql', checksum: 'a' },
    { name: '002_b.sql', checksum: 'b' },
  ];

  test('skips what was applied and applies the rest', () => {
    assert.deepEqual(
      plan(migrations, [{ name: '001_a.sql', checksum: 'a' }]).map(({ migration, action }) => [migration.name, action]),
      [
        ['001_a.sql', 'skip'],
        ['002_b.sql', 'apply'],
      ],
    );
  });

  test('ignores applied migrations it has no file for (an older image rolling back)', () => {
    const rows = [...migrations, { name: '003_newer.sql', checksum: 'c' }];
    assert.deepEqual(
      plan(migrations, rows).map(({ action }) => action),
      ['skip', 'skip'],
    );
  });

  test('refuses when an applied file changed, naming it', () => {
    assert.throws(() => plan(migrations, [{ name: '002_b.sql', checksum: 'other' }]), (error) => {
      assert.ok(error instanceof ChangedMigrationError);
      assert.match(error.message, /^refusing to migrate: 002_b\.sql changed/);
      return true;
    });
  });
});

describe('migrate', () => {
  const migrations = [
    { name: '001_a.sql', sql: 'CREATE TABLE a ()', checksum: 'ca' },
    { name: '002_b.sql', sql: 'CREATE TABLE b ()', checksum: 'cb' },
  ];

  test('locks, applies each pending migration in its own transaction with its row, then unlocks', async () => {
    const client = recordingClient({ applied: [{ name: '001_a.sql', checksum: 'ca' }] });
    const lines = [];
    await migrate(client, 'app', migrations, (line) => lines.push(line));
    assert.deepEqual(lines, ['already applied 001_a.sql', 'applied 002_b.sql']);
    assert.match(client.queries[0], /^SELECT pg_advisory_lock\(\$1\)/);
    assert.match(client.queries[1], /^CREATE TABLE IF NOT EXISTS "app"\.schema_migrations \( name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now\(\) \)$/);
    assert.deepEqual(client.queries.slice(3), [
      'BEGIN',
      'CREATE TABLE b ()',
      'INSERT INTO "app".schema_migrations (name, checksum) VALUES ($1, $2) ["002_b.sql","cb"]',
      'COMMIT',
      'SELECT pg_advisory_unlock($1) ["7406052913"]',
    ]);
  });

  test('rolls a failed migration back, names it, and still unlocks', async () => {
    const client = recordingClient({ failOn: 'CREATE TABLE a' });
    await assert.rejects(migrate(client, 'app', migrations, () => {}), /^Error: failed 001_a\.sql: syntax error$/);
    assert.deepEqual(client.queries.slice(-3), ['CREATE TABLE a ()', 'ROLLBACK', 'SELECT pg_advisory_unlock($1) ["7406052913"]']);
  });
});
