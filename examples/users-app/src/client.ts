import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

// The GraphQL endpoint: /graphql on the app's own origin (the dev and
// preview servers proxy it to usersgraph), or VITE_GRAPHQL_URL at build time.
const endpoint = import.meta.env.VITE_GRAPHQL_URL ?? '/graphql';

// createClient returns a client whose requests carry apiKey as X-API-Key. A
// new key gets a new client, and so a new cache: users seen with one
// credential are never shown under another.
export function createClient(apiKey: string): ApolloClient {
  return new ApolloClient({
    link: new HttpLink({ uri: endpoint, headers: apiKey ? { 'X-API-Key': apiKey } : {} }),
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            // One list per filter and order; pages fetched with after/first
            // are appended, pages fetched with before/last are prepended.
            users: relayStylePagination(['filter', 'orderBy']),
          },
        },
      },
    }),
  });
}
