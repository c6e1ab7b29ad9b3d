import { useEffect, useMemo, useRef, useState } from 'react';
import type { ErrorLike } from '@apollo/client';
import { ApolloProvider, useQuery } from '@apollo/client/react';
import { createClient } from './client';
import { advice, describeError } from './errors';
import { graphql } from './gql';
import type { OrderDirection, UserOrderField } from './gql/graphql';
import { UserRow } from './UserRow';
import { orderFields, readView, writeView, type View } from './view';

const PAGE_SIZE = 20;
const FILTER_DELAY_MS = 300;

const UsersPageQuery = graphql(`
  query UsersPage(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $filter: String
    $orderBy: [UserOrder!]
  ) {
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges {
        cursor
        node {
          id
          ...UserRow
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);

export function App() {
  const [apiKey, setApiKey] = useState(import.meta.env.VITE_API_KEY ?? 'demo-key');
  const client = useMemo(() => createClient(apiKey), [apiKey]);
  return (
    <ApolloProvider client={client}>
      <header>
        <h1>Users</h1>
        <form
          className="key"
          onSubmit={(e) => {
            e.preventDefault();
            setApiKey(String(new FormData(e.currentTarget).get('key') ?? '').trim());
          }}
        >
          <label>
            X-API-Key <input name="key" defaultValue={apiKey} autoComplete="off" />
          </label>
          <button type="submit">Use key</button>
        </form>
      </header>
      <Users />
    </ApolloProvider>
  );
}

function Users() {
  const [view, setView] = useState(readView);
  const [filterText, setFilterText] = useState(view.filter);
  const [more, setMore] = useState<{ direction: 'next' | 'previous'; error?: ErrorLike } | null>(null);

  const change = (next: View) => {
    setView(next);
    setMore(null);
    writeView(next, 'push');
  };

  // Typing settles before the list is asked for again.
  useEffect(() => {
    if (filterText.trim() === view.filter) return;
    const t = setTimeout(() => change({ ...view, filter: filterText.trim(), after: null }), FILTER_DELAY_MS);
    return () => clearTimeout(t);
  }, [filterText, view]);

  // The browser's back and forward buttons restore the list they left.
  useEffect(() => {
    const restore = () => {
      const v = readView();
      setView(v);
      setFilterText(v.filter);
      setMore(null);
    };
    window.addEventListener('popstate', restore);
    return () => window.removeEventListener('popstate', restore);
  }, []);

  const { data, loading, error, fetchMore, refetch } = useQuery(UsersPageQuery, {
    variables: {
      first: PAGE_SIZE,
      after: view.after,
      filter: view.filter || null,
      orderBy: [{ field: view.field, direction: view.direction }],
    },
  });
  const users = data?.users;

  const load = async (direction: 'next' | 'previous') => {
    if (!users || (more && !more.error)) return;
    const info = users.pageInfo;
    if (direction === 'next' ? !info.hasNextPage : !info.hasPreviousPage) return;
    setMore({ direction });
    try {
      await fetchMore({
        variables:
          direction === 'next'
            ? { first: PAGE_SIZE, after: info.endCursor, last: null, before: null }
            : { last: PAGE_SIZE, before: info.startCursor, first: null, after: null },
      });
      // A reload starts at the page last loaded; "Load earlier" goes back.
      const start = direction === 'next' ? info.endCursor : null;
      if (direction === 'next') writeView({ ...view, after: start }, 'replace');
      setMore(null);
    } catch (e) {
      setMore({ direction, error: e as ErrorLike });
    }
  };

  // Scrolling the end of the list into view loads the next page.
  const loadNext = useRef(() => {});
  loadNext.current = () => void load('next');
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadNext.current();
    });
    if (sentinel.current) io.observe(sentinel.current);
    return () => io.disconnect();
  }, []);

  const busy = loading || (more !== null && !more.error);
  return (
    <main>
      <div className="controls">
        <input
          type="search"
          aria-label="Filter by name or e-mail"
          placeholder="Filter by name or e-mail"
          value={filterText}
          onChange={(e) => setFilterText(e.target.value)}
        />
        <select
          aria-label="Sort by"
          value={view.field}
          onChange={(e) => change({ ...view, field: e.target.value as UserOrderField, after: null })}
        >
          {orderFields.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </select>
        <select
          aria-label="Direction"
          value={view.direction}
          onChange={(e) => change({ ...view, direction: e.target.value as OrderDirection, after: null })}
        >
          <option value="ASC">ascending</option>
          <option value="DESC">descending</option>
        </select>
      </div>

      {error && <ErrorNotice key={error.message} error={error} onRetry={() => void refetch()} />}

      {users && (
        <>
          <p className="status" data-filter={view.filter} data-busy={busy}>
            {users.edges.length} of {users.totalCount} users
          </p>
          {users.pageInfo.hasPreviousPage && (
            <button className="more" disabled={busy} onClick={() => void load('previous')}>
              Load earlier
            </button>
          )}
          {more?.error && more.direction === 'previous' && (
            <ErrorNotice error={more.error} onRetry={() => void load('previous')} />
          )}
          <ul className="users" data-testid="users">
            {users.edges.map((edge) => (
              <UserRow key={edge.node.id} user={edge.node} />
            ))}
          </ul>
          {more?.error && more.direction === 'next' && (
            <ErrorNotice error={more.error} onRetry={() => void load('next')} />
          )}
          {users.pageInfo.hasNextPage && (
            <button className="more" disabled={busy} onClick={() => void load('next')}>
              Load more
            </button>
          )}
          {!users.pageInfo.hasNextPage && <p className="end">End of the list.</p>}
        </>
      )}
      {busy && <p className="loading">Loading…</p>}
      <div ref={sentinel} data-testid="end-of-list" />
    </main>
  );
}

// ErrorNotice shows a failed request by its code. A RATE_LIMITED error
// counts down its retryAfter before it offers to retry.
function ErrorNotice(props: { error: ErrorLike; onRetry: () => void }) {
  const problem = describeError(props.error);
  const [left, setLeft] = useState(problem.retryAfter ?? 0);
  useEffect(() => {
    if (left <= 0) return;
    const t = setTimeout(() => setLeft(left - 1), 1000);
    return () => clearTimeout(t);
  }, [left]);
  return (
    <div className="error" role="alert" data-code={problem.code ?? ''}>
      <strong>{problem.code ?? 'ERROR'}</strong> {advice(problem, left)}
      {problem.code !== 'UNAUTHENTICATED' && (
        <button disabled={left > 0} onClick={() => props.onRetry()}>
          Retry
        </button>
      )}
    </div>
  );
}
