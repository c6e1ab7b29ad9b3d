// One user, refetchable on its own: Relay builds the refetch query on
// Query.node(id:), so this needs User to implement the Node interface.
// Compiled by relay-compiler, never run.
import { graphql } from 'relay-runtime';

export const userCardFragment = graphql`
  fragment UserCard_user on User
  @refetchable(queryName: "UserCardRefetchQuery") {
    id
    name
    email
    createdBy {
      id
      name
    }
  }
`;
