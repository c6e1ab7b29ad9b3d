// Step 1: the GraphQL over HTTP conformance audits of graphql-http, run
// against the facade. Every audit must pass: an error (a MUST) or a warning
// (a SHOULD) fails the step. Notices (a MAY) are printed but do not fail it.
//
// Env: USERSGRAPH_URL, the facade's GraphQL endpoint
// (e.g. http://127.0.0.1:18090/graphql).

import { serverAudits } from 'graphql-http';

const url = process.env.USERSGRAPH_URL;
if (!url) {
  console.error('audit: USERSGRAPH_URL is not set');
  process.exit(2);
}

// What the failing response looked like, in one short line.
async function describeResponse(res) {
  if (!res || typeof res.status !== 'number') return '';
  let body = '';
  try {
    body = await res.text();
  } catch {
    body = '(body already read)';
  }
  body = body.replace(/\s+/g, ' ').trim();
  if (body.length > 300) body = body.slice(0, 300) + '...';
  const type = res.headers?.get?.('content-type') ?? '';
  return `HTTP ${res.status} ${type ? `[${type}] ` : ''}${body}`;
}

const audits = serverAudits({ url, fetchFn: fetch });
console.log(`audit: ${audits.length} GraphQL over HTTP audits against ${url}`);

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const failures = [];
for (const audit of audits) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // A thrown audit is fatal to that audit: count it as an error.
    result = { id: audit.id, name: audit.name, status: 'error', reason: `audit threw: ${err?.message ?? err}` };
  }
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  if (result.status !== 'ok') {
    failures.push({ audit, result, response: await describeResponse(result.response) });
  } else if (result.response?.body && typeof result.response.body.cancel === 'function' && !result.response.bodyUsed) {
    await result.response.body.cancel().catch(() => {});
  }
}

if (failures.length > 0) {
  console.log('');
  console.log('status | id   | audit');
  console.log('-------+------+------------------------------------------------------------');
  for (const { audit, result, response } of failures) {
    console.log(`${result.status.padEnd(6)} | ${audit.id.padEnd(4)} | ${audit.name}`);
    console.log(`       |      |   reason:   ${result.reason}`);
    if (response) console.log(`       |      |   response: ${response}`);
  }
  console.log('');
}

console.log(`audit: ok ${counts.ok}, warn ${counts.warn}, error ${counts.error}` + (counts.notice ? `, notice ${counts.notice}` : ''));
if (counts.error > 0 || counts.warn > 0) {
  console.log('audit: FAILED (every MUST and SHOULD audit has to pass)');
  process.exit(1);
}
console.log('audit: passed');
