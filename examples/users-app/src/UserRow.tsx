import { graphql, useFragment, type FragmentType } from './gql';

// The fields a row shows, next to the component that shows them.
export const UserRowFragment = graphql(`
  fragment UserRow on User {
    id
    name
    email
    createdAt
    createdBy {
      id
      name
    }
  }
`);

export function UserRow(props: { user: FragmentType<typeof UserRowFragment> }) {
  const user = useFragment(UserRowFragment, props.user);
  return (
    <li className="user" data-user-id={user.id}>
      <span className="name">{user.name || <em>(no name)</em>}</span>
      <span className="email">{user.email}</span>
      <span className="creator">
        {user.createdBy ? `created by ${user.createdBy.name || user.createdBy.id}` : 'creator deleted'}
      </span>
      <time dateTime={user.createdAt ?? undefined}>{user.createdAt?.slice(0, 10)}</time>
    </li>
  );
}
