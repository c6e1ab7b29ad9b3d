/// <reference types="vite/client" />

interface ImportMetaEnv {
  // The GraphQL endpoint, when the app is not served beside it.
  readonly VITE_GRAPHQL_URL?: string;
  // The X-API-Key the app starts with (default: the demo server's key).
  readonly VITE_API_KEY?: string;
}
