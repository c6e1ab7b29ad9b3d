// Runs every operation of one manifest against a server started with it
// (TRUSTED_DOCUMENTS=<manifest> TRUSTED_DOCUMENTS_ONLY=true), by id only, the
// way the client that generated the manifest sends it, and checks that
// nothing else runs.
//
// Usage: node check.mjs relay|apollo <manifest>
// Env:   USERSGRAPH_URL  the trusted-only server's GraphQL endpoint
//        PLAIN_URL       a server without trusted documents: each
//                        operation's text sent there is the expected answer
//
// Each operation's required ID variables get a real demo user's id; the
// others keep their defaults.

import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { readFileSync } from 'node:fs';
import { Kind, parse } from 'graphql';

const [kind, manifestPath] = process.argv.slice(2);
const url = process.env.USERSGRAPH_URL;
const plainURL = process.env.PLAIN_URL;
if (!['relay', 'apollo'].includes(kind) || !manifestPath || !url || !plainURL) {
  console.error('usage: USERSGRAPH_URL=… PLAIN_URL=… node check.mjs relay|apollo <manifest>');
  process.exit(2);
}
const log = (...a) => console.log(`${kind}:`, ...a);
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

async function post(endpoint, body) {
  const r = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      'x-api-key': 'demo-key',
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) };
  } catch {
    return { status: r.status, body: { unparsed: text.slice(0, 300) } };
  }
}
const brief = (res) => `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;

// The manifest as id → text, whichever tool wrote it.
const raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
const manifest =
  kind === 'apollo'
    ? raw.operations.map((o) => ({ id: o.id, text: o.body }))
    : Object.entries(raw).map(([id, text]) => ({ id, text }));

// How each client names a document instead of sending it.
const forms = {
  relay: (id, text) => [
    ['doc_id', { doc_id: id }],
    ['documentId', { documentId: id }],
    ['APQ sha256Hash of the text', { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(text) } } }],
  ],
  apollo: (id) => [
    ['APQ sha256Hash', { extensions: { persistedQuery: { version: 1, sha256Hash: id } } }],
    ['documentId', { documentId: id }],
    ['documentId sha256:', { documentId: `sha256:${id}` }],
  ],
}[kind];

let failures = 0;
const check = (ok, what, res) => {
  if (ok) return true;
  failures++;
  console.error(`${kind}: FAILED: ${what}: ${res ? brief(res) : ''}`);
  return false;
};

// A real user id, asked of the server without trusted documents.
const seed = await post(plainURL, { query: '{ users(first: 1) { nodes { id } } }' });
const userID = seed.body.data?.users?.nodes?.[0]?.id;
if (!userID) {
  console.error(`${kind}: FAILED: no demo user from ${plainURL}: ${brief(seed)}`);
  process.exit(1);
}

function variablesFor(text) {
  const op = parse(text).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const value = (type) => {
    if (type.kind === Kind.NON_NULL_TYPE) return value(type.type);
    if (type.kind === Kind.LIST_TYPE) return [value(type.type)];
    if (type.name.value === 'ID') return userID;
    throw new Error(`no value for a required ${type.name.value}`);
  };
  const vars = {};
  for (const v of op.variableDefinitions ?? []) {
    if (v.type.kind === Kind.NON_NULL_TYPE && !v.defaultValue) vars[v.variable.name.value] = value(v.type);
  }
  return { name: op.name?.value ?? '(anonymous)', vars };
}

log(`${manifest.length} operations from ${manifestPath}, against ${url}`);
for (const { id, text } of manifest) {
  let name, vars;
  try {
    ({ name, vars } = variablesFor(text));
  } catch (err) {
    check(false, `${id}: ${err.message}`);
    continue;
  }
  const truth = await post(plainURL, { query: text, variables: vars });
  if (!check(truth.status === 200 && truth.body.data && !truth.body.errors, `${name}'s text on the server without a manifest`, truth)) continue;
  const passed = [];
  const failed = [];
  for (const [form, body] of [...forms(id, text), ['its text', { query: text }]]) {
    const res = await post(url, { ...body, variables: vars });
    const ok =
      check(res.status === 200 && res.body.data && !res.body.errors, `${name} by ${form}`, res) &&
      check(isDeepStrictEqual(res.body.data, truth.body.data), `${name} by ${form} answered other data than its text`, res);
    (ok ? passed : failed).push(form);
  }
  if (failed.length === 0) {
    log(`  ${name} ${JSON.stringify(vars)}: data, no errors, the text's answer, by ${passed.join(', ')}`);
  } else {
    log(`  ${name} ${JSON.stringify(vars)}: FAILED by ${failed.join(', ')}`);
  }
}

// What must not run: each answered one error with its code, and no data.
const refusals = [
  ['a document not in the manifest, as text', { query: '{ users(first: 1) { totalCount } }' }, 'TRUSTED_DOCUMENT_REQUIRED'],
  [
    'an APQ registration of a document not in the manifest',
    {
      query: '{ users(first: 2) { totalCount } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ users(first: 2) { totalCount } }') } },
    },
    'TRUSTED_DOCUMENT_REQUIRED',
  ],
  ['an unknown documentId', { documentId: 'sha256:' + '0'.repeat(64) }, 'TRUSTED_DOCUMENT_NOT_FOUND'],
  ['an unknown doc_id', { doc_id: '0'.repeat(32) }, 'TRUSTED_DOCUMENT_NOT_FOUND'],
];
for (const [what, body, code] of refusals) {
  if (body.query) {
    // The same document runs where no manifest is loaded: the refusal is
    // the manifest's doing.
    const plain = await post(plainURL, { query: body.query });
    check(plain.status === 200 && plain.body.data && !plain.body.errors, `${what}: the server without a manifest refused it too`, plain);
  }
  const res = await post(url, body);
  const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
  if (check(res.body.data == null && codes.length === 1 && codes[0] === code, `${what}: wanted only ${code}, no data`, res)) {
    log(`  ${what}: refused, HTTP ${res.status}, ${code}`);
  }
}

if (failures > 0) {
  console.error(`${kind}: ${failures} check(s) failed`);
  process.exit(1);
}
log('passed');
