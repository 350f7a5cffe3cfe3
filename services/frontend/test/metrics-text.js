'use strict';
// Reading samples back out of the Prometheus text a metrics path serves, by name and exact
// label set (in any order), so tests can compare a value before and after a request.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function samples(text) {
  const found = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || '').matchAll(LABEL)) labels[name] = value;
    found.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return found;
}

// The value of the sample `name` whose labels are exactly `labels`, or undefined.
function sample(text, name, labels = {}) {
  const wanted = Object.entries(labels);
  const found = samples(text).find(
    (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
  );
  return found && found.value;
}

// Every label set of `name`'s samples, each as a sorted "k=v,k=v" string.
function labelSets(text, name) {
  return samples(text)
    .filter((s) => s.name === name)
    .map((s) =>
      Object.entries(s.labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    )
    .sort();
}

module.exports = { labelSets, sample, samples };
