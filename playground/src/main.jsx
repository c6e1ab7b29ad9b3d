// The usersgraph playground: GraphiQL against the server's GraphQL endpoint,
// configured by the JSON that the server writes into index.html.
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './playground.css';

import { createRoot } from 'react-dom/client';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { hidePlumbing } from './plumbing.js';

// Where the bundle was loaded from: the workers sit beside it.
const assetBase = new URL('.', document.currentScript.src);

// Monaco runs its language services in web workers, built next to this
// bundle (build.mjs defines the file names).
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file =
      label === 'graphql' ? GRAPHQL_WORKER : label === 'json' ? JSON_WORKER : EDITOR_WORKER;
    return new Worker(new URL(file, assetBase), { name: label });
  },
};

const fallbackQuery = `# Welcome to the usersgraph playground.
#
# Run a query with Ctrl-Enter (Cmd-Enter on a Mac) or the run button;
# the Documentation Explorer on the left shows the schema, and the
# GraphiQL Explorer builds a query from the fields you tick.

{
  users(first: 5) {
    totalCount
    nodes {
      name
      email
      createdBy {
        name
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`;

// The server's configuration: {"endpoint", "headers", "title", "defaultQuery"}.
function readConfig() {
  const el = document.getElementById('config');
  let cfg = {};
  try {
    cfg = JSON.parse(el ? el.textContent : '{}') || {};
  } catch {
    // Not filled in (the page was opened without the server): defaults.
  }
  return {
    endpoint: typeof cfg.endpoint === 'string' && cfg.endpoint ? cfg.endpoint : '/graphql',
    headers: cfg.headers && typeof cfg.headers === 'object' ? cfg.headers : {},
    title: typeof cfg.title === 'string' ? cfg.title : '',
    defaultQuery: typeof cfg.defaultQuery === 'string' && cfg.defaultQuery ? cfg.defaultQuery : fallbackQuery,
  };
}

// The name of GraphiQL's own introspection query: its answer, and only its,
// is passed through hidePlumbing before the docs and the explorer see it.
const schemaQueryName = 'PlaygroundSchema';

// GraphQL over HTTP: a POST with a JSON body; the headers editor's headers
// go along with every request (introspection included).
function createFetcher(endpoint) {
  const url = new URL(endpoint, window.location.href).toString();
  return async (params, opts) => {
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
    };
    for (const [name, value] of Object.entries((opts && opts.headers) || {})) {
      // An empty value (a key not yet pasted in) is not sent at all.
      if (value !== '' && value != null) headers[name] = String(value);
    }
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(params) });
    const text = await res.text();
    try {
      const result = JSON.parse(text);
      return params.operationName === schemaQueryName ? hidePlumbing(result) : result;
    } catch {
      return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 500)}` }] };
    }
  };
}

// The GraphiQL Explorer: the schema's fields as a tree of checkboxes that
// writes the query.
const explorer = explorerPlugin();

const cfg = readConfig();
if (cfg.title) document.title = cfg.title;
const headers = Object.keys(cfg.headers).length ? JSON.stringify(cfg.headers, null, 2) : '';

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={createFetcher(cfg.endpoint)}
    defaultQuery={cfg.defaultQuery}
    initialHeaders={headers}
    defaultHeaders={headers}
    defaultEditorToolsVisibility={headers ? 'headers' : false}
    introspectionQueryName={schemaQueryName}
    plugins={[HISTORY_PLUGIN, explorer]}
    visiblePlugin="Documentation Explorer"
  />,
);
