import { defineConfig } from 'vite';

// The app calls /graphql on its own origin; the dev and preview servers pass
// it on to usersgraph (USERSGRAPH_URL, by default the demo server on :8080),
// so the browser needs no CORS and the app no absolute URL.
const target = process.env.USERSGRAPH_URL ?? 'http://localhost:8080';

export default defineConfig({
  server: { proxy: { '/graphql': target } },
  preview: { proxy: { '/graphql': target } },
  build: { sourcemap: false },
});
