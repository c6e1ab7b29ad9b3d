// Step 2: the facade as an Apollo Federation v2 subgraph.
//
// A second subgraph, `reviews`, is built here with @apollo/subgraph; its
// reviews point at real demo users of the facade, and at one well-formed id
// that no user has. The two subgraphs' SDLs (the facade's from its own
// `_service { sdl }`) are composed with @apollo/composition, and the
// supergraph is served by @apollo/gateway behind @apollo/server. Queries to
// the gateway must then resolve review authors through the facade's
// `_entities`, with the caller's X-API-Key forwarded to it.
//
// Env: USERSGRAPH_URL, the facade's GraphQL endpoint.

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { parse } from 'graphql';
import assert from 'node:assert/strict';

const facadeURL = process.env.USERSGRAPH_URL;
if (!facadeURL) {
  console.error('federation: USERSGRAPH_URL is not set');
  process.exit(2);
}

const DEMO_KEY = 'demo-key';
const WRONG_KEY = 'wrong-key';
// Well-formed (24 lowercase hex characters) but no demo user has it.
const MISSING_ID = 'ffffffffffffffffffffffff';

const log = (...a) => console.log('federation:', ...a);
const json = (v) => JSON.stringify(v, null, 2);

async function post(url, query, { variables, apiKey } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (apiKey) headers['x-api-key'] = apiKey;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  return { status: res.status, body };
}

const stoppers = [];
async function stopAll() {
  while (stoppers.length) {
    const stop = stoppers.pop();
    await stop().catch((err) => console.error('federation: stopping a server failed:', err));
  }
}

async function main() {
  // 1. What the facade says about a few demo users: the expected answers.
  const picked = await post(
    facadeURL,
    `{ first: users(first: 2) { nodes { id } } last: users(last: 2) { nodes { id } } }`,
    { apiKey: DEMO_KEY },
  );
  assert.equal(picked.body.errors, undefined, `facade errors: ${json(picked.body.errors)}`);
  const authorIDs = [...picked.body.data.first.nodes, ...picked.body.data.last.nodes].map((n) => n.id);
  const expectedRes = await post(
    facadeURL,
    `query Expected($ids: [ID!]!) { nodes(ids: $ids) { ... on User { id name email createdBy { name } } } }`,
    { variables: { ids: authorIDs }, apiKey: DEMO_KEY },
  );
  assert.equal(expectedRes.body.errors, undefined, `facade errors: ${json(expectedRes.body.errors)}`);
  const expected = new Map(expectedRes.body.data.nodes.map((u) => [u.id, u]));
  for (const id of authorIDs) assert.ok(expected.get(id), `facade's nodes(ids:) has no user ${id}`);
  log(`demo authors from the facade: ${authorIDs.map((id) => `${id} (${expected.get(id).name})`).join(', ')}`);

  // 2. The facade's subgraph SDL.
  const sdlRes = await post(facadeURL, '{ _service { sdl } }', { apiKey: DEMO_KEY });
  assert.equal(sdlRes.body.errors, undefined, `_service errors: ${json(sdlRes.body.errors)}`);
  const facadeSDL = sdlRes.body.data._service.sdl;
  assert.match(facadeSDL, /@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/, 'the facade SDL does not @link federation v2');
  assert.match(facadeSDL, /type User\b[^{]*@key\(fields: "id"\)/, 'the facade SDL has no `type User @key(fields: "id")`');
  log(`facade _service.sdl: ${facadeSDL.length} characters, federation v2 @link and User @key(fields: "id") present`);

  // 2b. The facade's _entities on its own: a known user, an unknown one.
  const entities = await post(
    facadeURL,
    'query Entities($r: [_Any!]!) { _entities(representations: $r) { __typename ... on User { id name } } }',
    { variables: { r: [{ __typename: 'User', id: authorIDs[0] }, { __typename: 'User', id: MISSING_ID }] }, apiKey: DEMO_KEY },
  );
  log(`facade _entities([${authorIDs[0]}, ${MISSING_ID}]): ${JSON.stringify(entities.body)}`);
  assert.equal(entities.body.errors, undefined, '_entities errors');
  assert.deepEqual(entities.body.data._entities, [{ __typename: 'User', id: authorIDs[0], name: expected.get(authorIDs[0]).name }, null]);

  // 3. The reviews subgraph.
  const reviews = [
    ...authorIDs.map((id, i) => ({ id: `r${i + 1}`, body: `Review ${i + 1} by a demo user`, authorID: id })),
    { id: `r${authorIDs.length + 1}`, body: 'Review by a user who does not exist', authorID: MISSING_ID },
  ];
  const reviewsTypeDefs = parse(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

    type Review {
      id: ID!
      body: String!
      "Nullable: the facade answers null for a user that does not exist."
      author: User
    }

    type User @key(fields: "id", resolvable: false) {
      id: ID!
    }

    type Query {
      reviews: [Review!]!
    }
  `);
  const reviewsServer = new ApolloServer({
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    schema: buildSubgraphSchema({
      typeDefs: reviewsTypeDefs,
      resolvers: {
        Query: { reviews: () => reviews },
        Review: { author: (r) => ({ __typename: 'User', id: r.authorID }) },
      },
    }),
  });
  const { url: reviewsURL } = await startStandaloneServer(reviewsServer, { listen: { host: '127.0.0.1', port: 0 } });
  stoppers.push(() => reviewsServer.stop());
  log(`reviews subgraph at ${reviewsURL} with ${reviews.length} reviews`);
  const reviewsSDL = (await post(reviewsURL, '{ _service { sdl } }')).body.data._service.sdl;

  // 4. Composition.
  const composed = composeServices([
    { name: 'users', url: facadeURL, typeDefs: parse(facadeSDL) },
    { name: 'reviews', url: reviewsURL, typeDefs: parse(reviewsSDL) },
  ]);
  if (composed.errors) {
    console.error(`federation: composition failed with ${composed.errors.length} error(s):`);
    for (const e of composed.errors) console.error(`  - [${e.extensions?.code ?? ''}] ${e.message}`);
    throw new Error('composition failed');
  }
  log(`composition succeeded: supergraph SDL ${composed.supergraphSdl.length} characters, ${composed.hints.length} hint(s)`);
  for (const h of composed.hints) log(`  hint [${h.definition?.code ?? ''}] ${h.message}`);

  // 5. The gateway, forwarding the caller's X-API-Key to every subgraph.
  const gateway = new ApolloGateway({
    supergraphSdl: composed.supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request, context }) {
          if (context.apiKey) request.http.headers.set('x-api-key', context.apiKey);
        },
      }),
  });
  const gatewayServer = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
  const { url: gatewayURL } = await startStandaloneServer(gatewayServer, {
    listen: { host: '127.0.0.1', port: 0 },
    context: async ({ req }) => ({ apiKey: req.headers['x-api-key'] }),
  });
  stoppers.push(() => gatewayServer.stop());
  log(`gateway at ${gatewayURL}`);

  const query = '{ reviews { id body author { id name email createdBy { name } } } }';

  // 6. With the demo key: every existing author resolved through the facade.
  log(`query (X-API-Key: ${DEMO_KEY}): ${query}`);
  const ok = await post(gatewayURL, query, { apiKey: DEMO_KEY });
  log(`answer HTTP ${ok.status}:\n${json(ok.body)}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.errors, undefined, 'the gateway answered errors with the demo key');
  const got = ok.body.data.reviews;
  assert.equal(got.length, reviews.length, 'review count');
  let checked = 0;
  for (const [i, r] of reviews.entries()) {
    const g = got[i];
    assert.equal(g.id, r.id);
    assert.equal(g.body, r.body);
    if (r.authorID === MISSING_ID) {
      // The facade's _entities answers null for an unknown user (checked in
      // step 2b). A null entity is not an error: the gateway keeps the
      // reference the reviews subgraph gave (its id) and answers null for
      // every field the facade owns, all of which are nullable.
      assert.deepEqual(g.author, { id: MISSING_ID, name: null, email: null, createdBy: null },
        `review ${r.id} by a missing user: want the id with null facade fields`);
      continue;
    }
    const want = expected.get(r.authorID);
    assert.deepEqual(g.author, { id: want.id, name: want.name, email: want.email, createdBy: want.createdBy },
      `review ${r.id}: the author differs from the facade's own answer`);
    assert.ok(g.author.createdBy && typeof g.author.createdBy.name === 'string', `review ${r.id}: createdBy not resolved`);
    checked++;
  }
  log(`demo key: ${checked} authors match the facade (name, email, createdBy.name); the missing author has its id and null name, email, createdBy`);

  // 7. With a wrong key: the facade must reject it (no fallback to its
  //    default key), and its error must come through the gateway.
  log(`query (X-API-Key: ${WRONG_KEY}): ${query}`);
  const bad = await post(gatewayURL, query, { apiKey: WRONG_KEY });
  log(`answer HTTP ${bad.status}:\n${json(bad.body)}`);
  assert.ok(Array.isArray(bad.body.errors) && bad.body.errors.length > 0, 'no errors with a wrong key: the key was not forwarded, or the facade fell back to its default key');
  const codes = bad.body.errors.map((e) => e.extensions?.code);
  assert.ok(codes.every((c) => c === 'UNAUTHENTICATED'), `every error must be UNAUTHENTICATED, got ${json(codes)}`);
  // The reviews themselves come from the reviews subgraph, which needs no
  // key; only what the facade owns (the authors' fields) is lost.
  assert.ok(bad.body.data?.reviews, 'reviews must still be there with a wrong key');
  for (const [i, g] of bad.body.data.reviews.entries()) {
    assert.deepEqual(g.author, { id: reviews[i].authorID, name: null, email: null, createdBy: null },
      `review ${g.id}: with a wrong key only the id must be left of the author`);
  }
  log(`wrong key: ${bad.body.errors.length} error(s), all UNAUTHENTICATED; ${bad.body.data.reviews.length} reviews whose authors have only their id`);

  // 8. One caller's wrong key must not spoil the others' answers (no shared
  //    failure state, no cached refusal): the demo key works as before.
  const again = await post(gatewayURL, query, { apiKey: DEMO_KEY });
  assert.equal(again.status, 200);
  assert.equal(again.body.errors, undefined, `the demo key fails after a wrong key was used: ${json(again.body.errors)}`);
  assert.deepEqual(again.body.data, ok.body.data, 'the demo key answers differently after a wrong key was used');
  log('demo key again, after the wrong key: the same answer as the first time, no errors');
}

let failed = false;
try {
  await main();
  log('passed');
} catch (err) {
  failed = true;
  console.error(`federation: FAILED: ${err?.message ?? err}`);
  if (err?.stack && !(err instanceof assert.AssertionError)) console.error(err.stack);
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
