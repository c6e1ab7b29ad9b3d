import type { OrderDirection, UserOrderField } from './gql/graphql';

// View is what the address bar keeps: the filter, the order and where the
// list starts (the cursor before its first page; null for the beginning).
// A reload or a shared link shows the same list; the browser's back button
// returns to the previous filter or order.
export interface View {
  filter: string;
  field: UserOrderField;
  direction: OrderDirection;
  after: string | null;
}

export const orderFields: { value: UserOrderField; label: string }[] = [
  { value: 'NAME', label: 'Name' },
  { value: 'EMAIL', label: 'E-mail' },
  { value: 'CREATED_AT', label: 'Created' },
  { value: 'LAST_ACTIVE', label: 'Last active' },
  { value: 'LAST_CHANGED', label: 'Last changed' },
  { value: 'ID', label: 'Id' },
];

export function readView(): View {
  const q = new URLSearchParams(window.location.search);
  const field = orderFields.find((f) => f.value === q.get('sort'))?.value ?? 'NAME';
  return {
    filter: q.get('filter') ?? '',
    field,
    direction: q.get('dir') === 'DESC' ? 'DESC' : 'ASC',
    after: q.get('after') || null,
  };
}

// writeView puts v in the address bar: a new history entry when the list
// changed, the same entry when only its start moved.
export function writeView(v: View, how: 'push' | 'replace'): void {
  const q = new URLSearchParams();
  if (v.filter) q.set('filter', v.filter);
  if (v.field !== 'NAME') q.set('sort', v.field);
  if (v.direction !== 'ASC') q.set('dir', v.direction);
  if (v.after) q.set('after', v.after);
  const url = q.size ? `?${q}` : window.location.pathname;
  if (how === 'push') window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}
