// The page queries: one pages forward, one backward (the same `users` field
// with other arguments cannot share a selection without an alias), each with
// one user fetched by id. Compiled by relay-compiler, never run.
import { graphql } from 'relay-runtime';

export const usersPageForwardQuery = graphql`
  query UsersPageForwardQuery($userID: ID!) {
    ...UsersForwardPagination_query @arguments(count: 5)
    user(id: $userID) {
      ...UserCard_user
    }
  }
`;

export const usersPageBackwardQuery = graphql`
  query UsersPageBackwardQuery {
    ...UsersBackwardPagination_query @arguments(count: 3)
  }
`;
