package httpapi

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// documentGuard refuses, before gqlgen parses and validates it, a document
// whose validation would cost more than linear time or whose parse would
// not end soon: more than maxTokens tokens (TOKEN_LIMIT_EXCEEDED), or one
// response key (or one fragment spread) repeated more than maxRepeats
// times in a selection set (FIELD_REPEAT_LIMIT_EXCEEDED): gqlparser's
// OverlappingFieldsCanBeMerged compares such fields pairwise, which took
// 16 s for 20,000 repeats of totalCount. A document gqlgen has already
// validated (it is in the query cache) is not checked again.
type documentGuard struct {
	maxTokens, maxRepeats int // <= 0: no limit
	validated             graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentGuard{}

func (documentGuard) ExtensionName() string                   { return "DocumentGuard" }
func (documentGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (g documentGuard) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if raw.Query == "" {
		return nil
	}
	if _, ok := g.validated.Get(ctx, raw.Query); ok {
		return nil
	}
	src := &ast.Source{Input: raw.Query}
	if g.maxTokens > 0 {
		lex := lexer.New(src)
		for n := 0; ; n++ {
			tok, err := lex.ReadToken()
			if err != nil || tok.Kind == lexer.EOF {
				break // a lexical error is the parser's to report
			}
			if n >= g.maxTokens {
				return &gqlerror.Error{
					Message:    fmt.Sprintf("the document has more than %d tokens", g.maxTokens),
					Extensions: map[string]any{"code": CodeTokenLimit},
				}
			}
		}
	}
	if g.maxRepeats <= 0 {
		return nil
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return nil // gqlgen reports it
	}
	check := func(set ast.SelectionSet) *gqlerror.Error { return repeats(set, g.maxRepeats) }
	for _, op := range doc.Operations {
		if err := check(op.SelectionSet); err != nil {
			return err
		}
	}
	for _, f := range doc.Fragments {
		if err := check(f.SelectionSet); err != nil {
			return err
		}
	}
	return nil
}

// repeats finds a response key or a fragment spread that appears more than
// max times in one selection set (inline fragments count with the set
// they are in), looking into every set once.
func repeats(set ast.SelectionSet, limit int) *gqlerror.Error {
	seen := map[string]int{}
	var nested []ast.SelectionSet
	var walk func(ast.SelectionSet) *gqlerror.Error
	walk = func(set ast.SelectionSet) *gqlerror.Error {
		for _, sel := range set {
			var key string
			var pos *ast.Position
			switch s := sel.(type) {
			case *ast.Field:
				key, pos = s.Alias, s.Position
				if key == "" {
					key = s.Name
				}
				if len(s.SelectionSet) > 0 {
					nested = append(nested, s.SelectionSet)
				}
			case *ast.FragmentSpread:
				key, pos = "..."+s.Name, s.Position
			case *ast.InlineFragment:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
				continue
			}
			if seen[key]++; seen[key] > limit {
				e := &gqlerror.Error{
					Message:    fmt.Sprintf("%q appears more than %d times in one selection set", key, limit),
					Extensions: map[string]any{"code": CodeFieldRepeats},
				}
				if pos != nil {
					e.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
				}
				return e
			}
		}
		return nil
	}
	if err := walk(set); err != nil {
		return err
	}
	for i := 0; i < len(nested); i++ {
		clear(seen)
		if err := walk(nested[i]); err != nil {
			return err
		}
	}
	return nil
}
