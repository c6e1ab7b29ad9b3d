package httpapi

import (
	"encoding/json"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/usersgraph/usersgraph/graph/pagination"
)

// cost is what an operation may spend, computed from its document and
// variables before it runs: its complexity (rows it can return), its
// depth, the upstream calls it can make, the size of its answer, and
// whether it introspects. Every figure is an upper bound.
type cost struct {
	complexity int64
	depth      int64
	calls      int64
	bytes      int64
	introspect bool
}

// costCap keeps the sums far from overflowing: no limit is anywhere near.
const costCap = int64(1) << 50

func capped(v int64) int64 { return min(v, costCap) }

// add is a sibling's cost; times scales a child's by the items of a list.
func (c cost) add(o cost) cost {
	return cost{
		complexity: capped(c.complexity + o.complexity),
		depth:      max(c.depth, o.depth),
		calls:      capped(c.calls + o.calls),
		bytes:      capped(c.bytes + o.bytes),
		introspect: c.introspect || o.introspect,
	}
}

func (c cost) times(n int64) cost {
	mul := func(v int64) int64 {
		if v != 0 && n > costCap/v {
			return costCap
		}
		return capped(v * n)
	}
	return cost{complexity: mul(c.complexity), depth: c.depth, calls: mul(c.calls), bytes: mul(c.bytes), introspect: c.introspect}
}

// Bytes an answer spends around a value (quotes, colon, comma) and for a
// leaf's value: ids are 24 characters, e-mails, names and dates about as
// long. An estimate to refuse the absurd early; the answer's real size is
// checked again after execution.
const (
	keyOverhead   = 4
	leafEstimate  = 32
	entryOverhead = 2
)

// costWalker measures one operation. Each fragment is measured once per
// list length it is spread under, so the time is linear in the document
// however often fragments spread each other; fields with the same response
// key in one selection set are merged first, as execution merges them.
type costWalker struct {
	frags ast.FragmentDefinitionList
	vars  map[string]any
	memo  map[fragmentAt]cost
	// visiting guards against fragment cycles, which validation refuses.
	visiting map[string]bool
}

type fragmentAt struct {
	name string
	list int64
}

func measureOperation(op *ast.OperationDefinition, frags ast.FragmentDefinitionList, vars map[string]any) cost {
	w := costWalker{frags: frags, vars: vars, memo: map[fragmentAt]cost{}, visiting: map[string]bool{}}
	return w.selectionSet(op.SelectionSet, 1)
}

// selectionSet is the cost of one object's selections; list is the length
// of the page a UserConnection being selected holds (1 elsewhere).
func (w *costWalker) selectionSet(set ast.SelectionSet, list int64) cost {
	var keys []string
	groups := map[string][]*ast.Field{}
	spreads := map[string]bool{}
	var collect func(ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				k := s.Alias
				if k == "" {
					k = s.Name
				}
				if _, ok := groups[k]; !ok {
					keys = append(keys, k)
				}
				groups[k] = append(groups[k], s)
			case *ast.InlineFragment:
				collect(s.SelectionSet)
			case *ast.FragmentSpread:
				spreads[s.Name] = true // a fragment spread twice runs once
			}
		}
	}
	collect(set)
	var c cost
	for _, k := range keys {
		c = c.add(w.field(k, groups[k], list))
	}
	for name := range spreads {
		c = c.add(w.fragment(name, list))
	}
	return c
}

func (w *costWalker) fragment(name string, list int64) cost {
	at := fragmentAt{name, list}
	if c, ok := w.memo[at]; ok {
		return c
	}
	f := w.frags.ForName(name)
	if f == nil || w.visiting[name] {
		return cost{}
	}
	w.visiting[name] = true
	c := w.selectionSet(f.SelectionSet, list)
	delete(w.visiting, name)
	w.memo[at] = c
	return c
}

// field is the cost of the fields of one response key, merged.
func (w *costWalker) field(key string, same []*ast.Field, list int64) cost {
	f := same[0]
	children := f.SelectionSet
	if len(same) > 1 {
		children = nil
		for _, g := range same {
			children = append(children, g.SelectionSet...)
		}
	}
	own := cost{complexity: 1, bytes: int64(len(key)) + keyOverhead}
	if len(children) == 0 {
		own.bytes += leafEstimate
	}
	if len(f.Name) > 1 && f.Name[:2] == "__" {
		// Introspection costs no call and does not count towards depth.
		own.introspect = f.Name == "__schema" || f.Name == "__type"
		if len(children) > 0 {
			ch := w.selectionSet(children, 1)
			ch.depth = 0
			own = own.add(ch)
		}
		return own
	}
	parent := ""
	if f.ObjectDefinition != nil {
		parent = f.ObjectDefinition.Name
	}
	// items is how many objects the field returns; calls, the upstream
	// calls it makes itself; childList, the page its children hold.
	items, childList := int64(1), int64(1)
	switch parent + "." + f.Name {
	case "Query.users":
		own.calls = 1
		childList = pageSize(f.ArgumentMap(w.vars))
		// The whole connection's complexity counts once per row, as
		// it always has; its calls and bytes are counted per row by
		// edges and nodes.
		ch := w.selectionSet(children, childList)
		ch.complexity = ch.times(childList).complexity
		own = own.add(ch)
		own.depth++
		return own
	case "Query.user", "Query.node":
		own.calls = 1
	case "Query.nodes":
		ids := asList(f.ArgumentMap(w.vars)["ids"])
		own.calls, items = distinct(ids, func(v any) any { return v }), int64(max(len(ids), 1))
	case "Query._entities":
		reps := asList(f.ArgumentMap(w.vars)["representations"])
		own.calls = distinct(reps, func(v any) any {
			if m, ok := v.(map[string]any); ok {
				if id, ok := m["id"]; ok {
					return id
				}
				if e, ok := m["email"].(string); ok {
					return "email:" + e
				}
				return v
			}
			return v
		})
		items = int64(max(len(reps), 1))
	case "Query._service":
		// The federation SDL is the schema: introspection by other means.
		own.introspect = true
	case "UserConnection.edges", "UserConnection.nodes":
		// A list of the page's rows; users already multiplied the
		// complexity by them.
		own.bytes += list * entryOverhead
		if len(children) > 0 {
			ch := w.selectionSet(children, 1)
			perRow := ch.times(list)
			perRow.complexity = ch.complexity
			own = own.add(perRow)
		}
		own.depth++
		return own
	case "User.createdBy", "User.lastChangedBy":
		// At most one lookup per user holding the reference.
		own.calls = 1
	}
	if len(children) > 0 {
		own = own.add(w.selectionSet(children, childList).times(items))
	}
	own.depth++
	return own
}

// pageSize is the rows a users field can return, as the resolver clamps it.
func pageSize(args map[string]any) int64 {
	n := int64(pagination.DefaultPageSize)
	for _, k := range []string{"first", "last"} {
		if v, ok := asInt(args[k]); ok {
			n = v
			break
		}
	}
	// Out-of-range sizes are refused by the resolver with a clearer
	// message; clamping keeps the estimate to what could run.
	return min(max(n, 1), pagination.MaxPageSize)
}

// asInt reads an Int argument, from a literal or a variable.
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case float64:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

func distinct(vs []any, key func(any) any) int64 {
	seen := make(map[any]struct{}, len(vs))
	for _, v := range vs {
		k := key(v)
		switch k.(type) {
		case string, int, int64, float64, bool, nil:
		default:
			k = len(seen) // unhashable: count it as its own
		}
		seen[k] = struct{}{}
	}
	return int64(max(len(seen), 1))
}
