// Step 3: the facade's schema is good enough for Relay.
//
// The schema is introspected from the running facade and printed to
// relay/generated/schema.graphql; relay-compiler then compiles the committed
// sources in relay/src/ (forward and backward @connection pagination with
// @refetchable, and a @refetchable User fragment, which needs the Node
// interface and Query.node). relay-compiler has to exit 0; then the
// operations it generated are sent to the facade as Relay would send them
// (first pages, next and previous pages by cursor, a refetch through
// Query.node), and their answers checked against the facade's own.
//
// Env: USERSGRAPH_URL, the facade's GraphQL endpoint.

import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClientSchema, getIntrospectionQuery, printSchema } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.USERSGRAPH_URL;
if (!url) {
  console.error('relay: USERSGRAPH_URL is not set');
  process.exit(2);
}
const log = (...a) => console.log('relay:', ...a);

const generated = join(here, 'relay', 'generated');
const schemaPath = join(generated, 'schema.graphql');
const artifacts = join(generated, '__generated__');

// 1. Introspect the facade and print its schema.
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: JSON.stringify({ query: getIntrospectionQuery({ specifiedByUrl: true }) }),
});
const body = await res.json();
if (!res.ok || body.errors || !body.data) {
  console.error(`relay: FAILED: introspection answered HTTP ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
  process.exit(1);
}
const schema = buildClientSchema(body.data);
rmSync(generated, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });
writeFileSync(schemaPath, printSchema(schema) + '\n');
const types = Object.keys(schema.getTypeMap()).filter((n) => !n.startsWith('__'));
log(`introspected ${types.length} types from ${url} into ${relative(process.cwd(), schemaPath)}`);

// What Relay needs of the schema, said plainly before the compiler says it
// its own way.
const node = schema.getType('Node');
const user = schema.getType('User');
const nodeField = schema.getQueryType().getFields().node;
const hasNode = node && user && user.getInterfaces?.().some((i) => i.name === 'Node') && nodeField;
if (!hasNode) {
  log('the schema lacks what Relay needs for @refetchable on User: `interface Node { id: ID! }`,');
  log('`type User implements Node` and `Query.node(id: ID!): Node`; relay-compiler will fail.');
} else {
  log(`schema has interface Node, User implements Node, Query.node(${nodeField.args.map((a) => `${a.name}: ${a.type}`).join(', ')}): ${nodeField.type}`);
}

// 2. relay-compiler over relay/src.
const compiler = join(here, 'node_modules', '.bin', 'relay-compiler');
log(`running relay-compiler with relay.config.json (sources: ${readdirSync(join(here, 'relay', 'src')).join(', ')})`);
const run = spawnSync(compiler, ['relay.config.json'], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, NO_COLOR: '1' },
});
if (run.error) {
  console.error(`relay: FAILED: cannot run relay-compiler: ${run.error.message}`);
  process.exit(1);
}
if (run.status !== 0) {
  console.error(`relay: FAILED: relay-compiler exited ${run.status ?? `on signal ${run.signal}`}`);
  process.exit(1);
}

// 3. What it generated.
const files = readdirSync(artifacts).filter((f) => statSync(join(artifacts, f)).isFile()).sort();
log(`relay-compiler generated ${files.length} artifact(s) in ${relative(process.cwd(), artifacts)}:`);
for (const f of files) log(`  ${f} (${statSync(join(artifacts, f)).size} bytes)`);
if (files.length === 0) {
  console.error('relay: FAILED: no artifacts were generated');
  process.exit(1);
}

// 4. Run the generated operations against the facade.
const operations = new Map();
for (const f of files) {
  const src = readFileSync(join(artifacts, f), 'utf8');
  const text = src.match(/^\s*"text": ("(?:[^"\\]|\\.)*")/m);
  const name = src.match(/"name": "(\w+)",\s*"operationKind": "query"/);
  if (text && name) operations.set(name[1], JSON.parse(text[1]));
}
log(`generated operations: ${[...operations.keys()].join(', ')}`);

async function gql(query, variables) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const b = await r.json();
  if (r.status !== 200 || b.errors) throw new Error(`HTTP ${r.status}: ${JSON.stringify(b).slice(0, 500)}`);
  return b.data;
}
async function runOp(name, variables = {}) {
  const text = operations.get(name);
  assert.ok(text, `relay-compiler generated no operation ${name}`);
  const data = await gql(text, variables);
  log(`  ${name}(${JSON.stringify(variables)}) ok`);
  return data;
}
const ids = (conn) => conn.edges.map((e) => e.node.id);

try {
  const truth = await gql('{ head: users(first: 10) { nodes { id } } tail: users(last: 6) { nodes { id } } }');
  const head = truth.head.nodes.map((n) => n.id);
  const tail = truth.tail.nodes.map((n) => n.id);

  const fwd = await runOp('UsersPageForwardQuery', { userID: head[0] });
  assert.deepEqual(ids(fwd.users), head.slice(0, 5), 'first page (first: 5)');
  assert.equal(fwd.users.pageInfo.hasNextPage, true);
  assert.equal(fwd.user.id, head[0]);
  const next = await runOp('UsersForwardPaginationQuery', { count: 5, cursor: fwd.users.pageInfo.endCursor });
  assert.deepEqual(ids(next.users), head.slice(5, 10), 'next page (first: 5, after: endCursor)');
  log(`  forward: pages ${ids(fwd.users).length} + ${ids(next.users).length} users, the same as users(first: 10), of ${fwd.users.totalCount}`);

  const bwd = await runOp('UsersPageBackwardQuery');
  assert.deepEqual(ids(bwd.users), tail.slice(3), 'last page (last: 3)');
  assert.equal(bwd.users.pageInfo.hasPreviousPage, true);
  const prev = await runOp('UsersBackwardPaginationQuery', { count: 3, cursor: bwd.users.pageInfo.startCursor });
  assert.deepEqual(ids(prev.users), tail.slice(0, 3), 'previous page (last: 3, before: startCursor)');
  log(`  backward: pages ${ids(bwd.users).length} + ${ids(prev.users).length} users, the same as users(last: 6)`);

  const card = await runOp('UserCardRefetchQuery', { id: head[1] });
  const direct = await gql('query($id: ID!) { user(id: $id) { id name email createdBy { id name } } }', { id: head[1] });
  assert.equal(card.node.__typename, 'User');
  assert.deepEqual({ ...card.node, __typename: undefined }, { ...direct.user, __typename: undefined }, 'node(id:) differs from user(id:)');
  log(`  refetch: node(id: "${head[1]}") is the same ${card.node.__typename} as user(id:): ${card.node.name}`);
} catch (err) {
  console.error(`relay: FAILED: a generated operation did not work against the facade: ${err.message}`);
  process.exit(1);
}
log('passed');
