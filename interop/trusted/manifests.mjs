// Writes the two manifests of trusted documents the server is then started
// with, each by the tool a frontend team would use:
//
//   generated/relay-persisted.json  relay-compiler's persistConfig output,
//                                   {md5 id: text}, from the Relay sources of
//                                   ../relay/src (the interop Relay step's own)
//   generated/apollo-manifest.json  @apollo/generate-persisted-query-manifest's
//                                   manifest, from operations/*.graphql
//
// relay-compiler compiles against the server's public schema, fetched from
// SCHEMA_URL (a running server's GET /schema.graphql).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));
const generated = join(here, 'generated');
const log = (...a) => console.log('manifests:', ...a);
const fail = (msg) => {
  console.error(`manifests: FAILED: ${msg}`);
  process.exit(1);
};
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const operationName = (text) =>
  parse(text).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION)?.name?.value ?? '(anonymous)';

function run(bin, args) {
  const r = spawnSync(join(here, 'node_modules', '.bin', bin), args, {
    cwd: here,
    stdio: 'inherit',
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (r.error) fail(`cannot run ${bin}: ${r.error.message}`);
  if (r.status !== 0) fail(`${bin} exited ${r.status ?? `on signal ${r.signal}`}`);
}

const schemaURL = process.env.SCHEMA_URL;
if (!schemaURL) {
  console.error('manifests: SCHEMA_URL is not set');
  process.exit(2);
}

rmSync(generated, { recursive: true, force: true });
mkdirSync(join(generated, '__generated__'), { recursive: true });

// 1. The schema relay-compiler checks the documents against.
const res = await fetch(schemaURL);
if (!res.ok) fail(`GET ${schemaURL} answered HTTP ${res.status}`);
writeFileSync(join(generated, 'schema.graphql'), await res.text());
log(`schema from ${schemaURL}`);

// 2. relay-compiler with persistConfig: { file }. It merges into the file,
// which must exist: it starts empty, so it holds this run's operations only.
const relayManifest = join(generated, 'relay-persisted.json');
writeFileSync(relayManifest, '{}\n');
log('relay-compiler relay.config.json (persistConfig: { file: "./generated/relay-persisted.json" })');
run('relay-compiler', ['relay.config.json']);
const relay = JSON.parse(readFileSync(relayManifest, 'utf8'));
const relayIDs = Object.keys(relay);
if (relayIDs.length === 0) fail('relay-compiler persisted no operation');
// The artifacts are what the Relay runtime sends: each operation's id, and
// no text. Every id they hold must be one the manifest has.
const artifacts = join(generated, '__generated__');
const artifactIDs = new Map();
for (const f of readdirSync(artifacts)) {
  const src = readFileSync(join(artifacts, f), 'utf8');
  const id = src.match(/^\s*"id": "([0-9a-f]+)"/m);
  if (!id) continue;
  if (!/^\s*"text": null/m.test(src)) fail(`${f} has an id and still carries its text`);
  artifactIDs.set(id[1], f);
}
for (const [id, f] of artifactIDs) if (!(id in relay)) fail(`${f} sends doc_id ${id}, which the manifest lacks`);
for (const id of relayIDs) if (!artifactIDs.has(id)) fail(`the manifest's ${id} is in no artifact`);
log(`relay: ${relayIDs.length} operations, each the id of its artifact:`);
for (const id of relayIDs) log(`  ${id}  ${operationName(relay[id])}`);

// 3. Apollo's manifest generator over operations/*.graphql.
log('generate-persisted-query-manifest --config persisted-query-manifest.config.json');
run('generate-persisted-query-manifest', ['--config', 'persisted-query-manifest.config.json']);
const apollo = JSON.parse(readFileSync(join(generated, 'apollo-manifest.json'), 'utf8'));
if (apollo.format !== 'apollo-persisted-query-manifest') fail(`apollo: format ${JSON.stringify(apollo.format)}`);
const sources = readdirSync(join(here, 'operations')).filter((f) => f.endsWith('.graphql'));
const written = sources.flatMap((f) =>
  parse(readFileSync(join(here, 'operations', f), 'utf8'))
    .definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)
    .map((d) => d.name.value),
);
const listed = apollo.operations.map((o) => o.name);
if (written.sort().join() !== [...listed].sort().join()) {
  fail(`apollo: operations/ has ${written.join(', ')}; the manifest lists ${listed.join(', ')}`);
}
// An APQ hash and a documentId "sha256:<hash>" name a document by the
// sha256 of its text; the generator's ids are that hash.
for (const o of apollo.operations) if (o.id !== sha256(o.body)) fail(`apollo: ${o.name}'s id is not the sha256 of its body`);
log(`apollo: ${apollo.operations.length} operations, each id the sha256 of its body:`);
for (const o of apollo.operations) log(`  ${o.id}  ${o.name}`);
