// Forward pagination over Query.users (first/after), as Relay's
// usePaginationFragment does it. Compiled by relay-compiler, never run.
import { graphql } from 'relay-runtime';

export const usersForwardFragment = graphql`
  fragment UsersForwardPagination_query on Query
  @refetchable(queryName: "UsersForwardPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    users(first: $count, after: $cursor)
      @connection(key: "UsersForward_users") {
      totalCount
      edges {
        node {
          id
          name
          ...UserCard_user
        }
      }
    }
  }
`;
