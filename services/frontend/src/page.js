'use strict';
// The HTML the frontend serves: rendered on the server, no scripts, nothing fetched by the browser.
// Its Content-Security-Policy allows exactly that: its one inline stylesheet, by hash, and nothing else.

const crypto = require('node:crypto');

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; padding: 0 1rem; color: #222; }
li { margin: 0.75rem 0; }
.price { color: #555; }
`;
const CONTENT_SECURITY_POLICY =
  `default-src 'none'; style-src 'sha256-${crypto.createHash('sha256').update(STYLE).digest('base64')}'; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function escapeHtml(value) {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function layout(body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>davidshaevel</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>davidshaevel</h1>
${body}
</main>
</body>
</html>
`;
}

// data-items carries the count so checks need not parse the list.
function itemsPage(items) {
  const rows = items
    .map(
      (item) =>
        `<li><strong>${escapeHtml(item.name)}</strong> <span class="price">${escapeHtml(item.price)}</span>` +
        `<br>${escapeHtml(item.description)}</li>`,
    )
    .join('\n');
  const empty = items.length === 0 ? '<p>The catalogue is empty.</p>\n' : '';
  return layout(`<h2>Catalogue</h2>\n${empty}<ul data-items="${items.length}">\n${rows}\n</ul>`);
}

function unavailablePage() {
  return layout('<h2>Catalogue</h2>\n<p>The catalogue is unavailable right now. Please try again in a minute.</p>');
}

module.exports = { CONTENT_SECURITY_POLICY, escapeHtml, itemsPage, unavailablePage };
