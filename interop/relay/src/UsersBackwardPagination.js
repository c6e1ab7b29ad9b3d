// Backward pagination over Query.users (last/before), as Relay's
// usePaginationFragment does it with loadPrevious. Compiled, never run.
import { graphql } from 'relay-runtime';

export const usersBackwardFragment = graphql`
  fragment UsersBackwardPagination_query on Query
  @refetchable(queryName: "UsersBackwardPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    users(last: $count, before: $cursor)
      @connection(key: "UsersBackward_users") {
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
