'use strict';
// One bounded run of autocannon (the load generator pinned in package.json) against a local
// URL: a fixed number of keep-alive connections, each sending its next request when the last
// is answered, for a fixed time. Prints one JSON object. autocannon reports no p95 and keeps
// latencies in whole milliseconds, so each response's time is also kept here, to the microsecond.
//
//   node bench/load.js URL CONNECTIONS SECONDS

const autocannon = require('autocannon');

// Nearest rank: the smallest time that at least `percent` % of the responses took or beat.
function percentile(sorted, percent) {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function usage(reason) {
  console.error(`load.js: ${reason} (usage: node bench/load.js URL CONNECTIONS SECONDS)`);
  process.exit(2);
}

async function main([url, connectionsText, secondsText]) {
  const connections = Number(connectionsText);
  const seconds = Number(secondsText);
  if (!url || !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) usage(`URL must be a loopback http URL (got ${url})`);
  if (!Number.isInteger(connections) || connections < 1) usage(`CONNECTIONS must be a whole number from 1 (got ${connectionsText})`);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 300) usage(`SECONDS must be a whole number from 1 to 300 (got ${secondsText})`);

  const times = [];
  const instance = autocannon({ url, connections, duration: seconds, timeout: 10 });
  instance.on('response', (client, statusCode, bytes, milliseconds) => {
    if (statusCode >= 200 && statusCode < 300) times.push(milliseconds);
  });
  const result = await instance;
  times.sort((a, b) => a - b);
  const round = (value) => Math.round(value * 1000) / 1000;
  console.log(
    JSON.stringify({
      url,
      connections,
      seconds: result.duration,
      requests: times.length,
      requests_per_second: round(times.length / result.duration),
      latency_ms: {
        p50: round(percentile(times, 50)),
        p95: round(percentile(times, 95)),
        p99: round(percentile(times, 99)),
      },
      errors: result.errors,
      timeouts: result.timeouts,
      non_2xx: result.non2xx,
    }),
  );
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`load.js: ${error.message}`);
  process.exit(1);
});
