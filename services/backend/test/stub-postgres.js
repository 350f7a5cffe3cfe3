'use strict';
// A stand-in for PostgreSQL that speaks just enough of its protocol (startup, cleartext
// password, simple queries) for pg's Pool: it records what clients send and answers each query
// as the test says, so the tests can make a statement succeed, be refused or go unanswered.

const net = require('node:net');

function message(type, ...parts) {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const cstring = (text) => Buffer.from(`${text}\0`, 'utf8');
function int16(value) {
  const buffer = Buffer.alloc(2);
  buffer.writeInt16BE(value);
  return buffer;
}
function int32(value) {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

const TEXT_TYPE = 25;
const AUTHENTICATION_OK = message('R', int32(0));
const AUTHENTICATION_CLEARTEXT = message('R', int32(3));
const READY_FOR_QUERY = message('Z', Buffer.from('I'));

// Every column as text: pg hands text values over as strings, as it does numeric ones.
function rowsReply({ columns, rows }) {
  const description = message(
    'T',
    int16(columns.length),
    ...columns.map((name) => Buffer.concat([cstring(name), int32(0), int16(0), int32(TEXT_TYPE), int16(-1), int32(-1), int16(0)])),
  );
  const dataRows = rows.map((values) =>
    message(
      'D',
      int16(values.length),
      ...values.map((value) => {
        const bytes = Buffer.from(String(value), 'utf8');
        return Buffer.concat([int32(bytes.length), bytes]);
      }),
    ),
  );
  return Buffer.concat([description, ...dataRows, message('C', cstring(`SELECT ${rows.length}`)), READY_FOR_QUERY]);
}

function errorReply({ code, text }) {
  const fields = [['S', 'ERROR'], ['V', 'ERROR'], ['C', code], ['M', text]];
  const body = fields.map(([key, value]) => Buffer.concat([Buffer.from(key), cstring(value)]));
  return Buffer.concat([message('E', ...body, Buffer.from([0])), READY_FOR_QUERY]);
}

// answer(sql) says how to answer a query: {columns, rows}, {error: {code, text}}, or null for
// never. With askPassword, each connection is asked for a cleartext password first (recorded).
// Resolves to {server, seen, queries, answerPending(), close()}.
function startStubPostgres({ askPassword = false, answer = () => null } = {}) {
  const seen = [];
  const queries = [];
  const pending = [];
  const sockets = new Set();

  function reply(socket, sql) {
    const how = answer(sql);
    if (how === null) pending.push({ socket, sql });
    else socket.write(how.error ? errorReply(how.error) : rowsReply(how));
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    let started = false;
    const connection = {};
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return;
          const length = buffer.readInt32BE(0);
          const fields = buffer.subarray(8, length - 1).toString('utf8').split('\0');
          const parameters = {};
          for (let i = 0; i + 1 < fields.length; i += 2) parameters[fields[i]] = fields[i + 1];
          buffer = buffer.subarray(length);
          started = true;
          connection.parameters = parameters;
          seen.push(connection);
          socket.write(askPassword ? AUTHENTICATION_CLEARTEXT : Buffer.concat([AUTHENTICATION_OK, READY_FOR_QUERY]));
          continue;
        }
        if (buffer.length < 5 || buffer.length < 1 + buffer.readInt32BE(1)) return;
        const type = String.fromCharCode(buffer[0]);
        const length = buffer.readInt32BE(1);
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (type === 'p') {
          connection.password = body.subarray(0, body.length - 1).toString('utf8');
          socket.write(Buffer.concat([AUTHENTICATION_OK, READY_FOR_QUERY]));
        } else if (type === 'Q') {
          const sql = body.subarray(0, body.length - 1).toString('utf8');
          queries.push(sql);
          reply(socket, sql);
        } else if (type === 'X') {
          socket.end();
        }
      }
    });
    socket.on('error', () => {});
  });

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        seen,
        queries,
        // Answers the queries left unanswered so far, as answer() now says.
        answerPending() {
          for (const { socket, sql } of pending.splice(0)) reply(socket, sql);
        },
        close() {
          for (const socket of sockets) socket.destroy();
          return new Promise((done) => server.close(done));
        },
      }),
    );
  });
}

module.exports = { startStubPostgres };
