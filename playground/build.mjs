// Builds the playground into dist/: index.html, one JS bundle, one CSS file
// and Monaco's three web workers, all minified and named by content hash.
// The output depends only on the sources and the locked packages: no source
// maps, no timestamps, so a rebuild gives the same bytes (check.sh relies on
// it). The Go package embeds dist/ as it is.
import * as esbuild from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(root, 'dist');
const assets = path.join(dist, 'assets');

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['es2022'],
  platform: 'browser',
  legalComments: 'eof',
  charset: 'ascii',
  logLevel: 'warning',
  metafile: true,
  write: true,
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  // Fonts stay inside the CSS: no extra files, nothing fetched elsewhere.
  loader: { '.ttf': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl' },
  // Production builds of React and graphql-js (graphql-js checks that
  // globalThis.process exists before it reads NODE_ENV).
  define: { 'process.env.NODE_ENV': '"production"', 'globalThis.process': 'true' },
};

// graphiql/style.css already holds Monaco's CSS (in the order GraphiQL's own
// rules expect): the CSS files that Monaco's modules import are left out,
// or they would come a second time, after GraphiQL's, and override it.
const monacoCSSOnce = {
  name: 'monaco-css-once',
  setup(build) {
    build.onResolve({ filter: /\.css$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}monaco-editor${path.sep}`)
        ? { path: args.path, namespace: 'monaco-css-once' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'monaco-css-once' }, () => ({ contents: '', loader: 'empty' }));
  },
};

// Output file (relative to dist/) of each entry point, by entry name.
function outputs(result, ext) {
  const out = {};
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith(ext)) continue;
    const name = path.basename(file).replace(/-[A-Z0-9]+\.[a-z]+$/, '');
    out[name] = path.relative(dist, path.join(root, file)).split(path.sep).join('/');
    if (ext === '.js' && !meta.entryPoint) throw new Error(`unexpected chunk ${file}`);
  }
  return out;
}

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

// 1. Monaco's workers: the editor's own, JSON (variables, headers) and
//    GraphQL (validation, completion from the schema).
const workers = await esbuild.build({
  ...common,
  entryPoints: {
    'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
    'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
    'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
  },
});
const w = outputs(workers, '.js');
const base = (f) => JSON.stringify(path.basename(f));

// 2. The page's bundle and its CSS; it finds the workers beside itself.
const page = await esbuild.build({
  ...common,
  entryPoints: { playground: 'src/main.jsx' },
  jsx: 'automatic',
  plugins: [monacoCSSOnce],
  define: {
    ...common.define,
    EDITOR_WORKER: base(w['editor.worker']),
    JSON_WORKER: base(w['json.worker']),
    GRAPHQL_WORKER: base(w['graphql.worker']),
  },
});
const js = outputs(page, '.js');
const css = outputs(page, '.css');
if (!js.playground || !css.playground) throw new Error('the page bundle or its CSS is missing');

// 3. index.html: the server fills in {{title}} and {{config}} when serving it.
const template = await readFile(path.join(root, 'src/index.html'), 'utf8');
const html = template.replace('{{js}}', js.playground).replace('{{css}}', css.playground);
await writeFile(path.join(dist, 'index.html'), html);

for (const [file, meta] of Object.entries({ ...workers.metafile.outputs, ...page.metafile.outputs })) {
  console.log(`${path.relative(root, path.join(root, file))}\t${(meta.bytes / 1024).toFixed(0)} KiB`);
}
