// What the docs and the explorer leave out: Apollo Federation's plumbing,
// which gateways use (through _service and _entities) and a frontend
// developer never needs. Only GraphiQL's own introspection is filtered:
// queries, _service and _entities included, still go to the server as typed.

// Types that exist for federation only.
const hiddenTypes = new Set(['_Any', '_Entity', '_Service', 'Entity', 'FieldSet', 'UserByIDsInput']);
const hiddenTypePrefixes = ['federation__', 'link__'];
// Query fields for gateways.
const hiddenRootFields = new Set(['_entities', '_service']);
// Federation's directives, and gqlgen's federation directives.
const hiddenDirectives = new Set([
  'authenticated', 'composeDirective', 'computedRequires', 'context', 'cost', 'entityResolver',
  'extends', 'external', 'fromContext', 'inaccessible', 'interfaceObject', 'key', 'link',
  'listSize', 'override', 'policy', 'provides', 'requires', 'requiresScopes', 'shareable', 'tag',
]);

const isHiddenType = (name) => hiddenTypes.has(name) || hiddenTypePrefixes.some((p) => name.startsWith(p));

// The named type under NON_NULL and LIST wrappers.
function namedType(ref) {
  while (ref && ref.ofType) ref = ref.ofType;
  return ref && ref.name;
}
const showsHidden = (ref) => isHiddenType(namedType(ref));

// Built-in scalars and introspection types come after the product's types.
function rank(type) {
  if (type.name.startsWith('__')) return 2;
  if (['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) return 1;
  return 0;
}

// hidePlumbing returns an introspection result without federation's types,
// root fields and directives, and with the product's types first (the
// Documentation Explorer lists types in the order it is given). Anything
// that still refers to a hidden type is dropped with it, so the result
// always builds into a valid schema.
export function hidePlumbing(result) {
  const schema = result && result.data && result.data.__schema;
  if (!schema || !Array.isArray(schema.types)) return result;
  const queryName = schema.queryType && schema.queryType.name;
  const inputs = (args) => (args || []).filter((a) => !showsHidden(a.type));
  const types = schema.types
    .filter((t) => !isHiddenType(t.name))
    .map((t) => ({
      ...t,
      fields:
        t.fields &&
        t.fields
          .filter((f) => !(t.name === queryName && hiddenRootFields.has(f.name)) && !showsHidden(f.type))
          .map((f) => ({ ...f, args: inputs(f.args) })),
      inputFields: t.inputFields && inputs(t.inputFields),
      interfaces: t.interfaces && t.interfaces.filter((i) => !isHiddenType(i.name)),
      possibleTypes: t.possibleTypes && t.possibleTypes.filter((p) => !isHiddenType(p.name)),
    }))
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
    .map(({ t }) => t);
  const directives = (schema.directives || []).filter(
    (d) => !hiddenDirectives.has(d.name) && d.args.every((a) => !showsHidden(a.type)),
  );
  return { ...result, data: { ...result.data, __schema: { ...schema, types, directives } } };
}
