package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/graph"
	"github.com/usersgraph/usersgraph/graph/fastpath"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// DefaultMaxBodyBytes bounds a POST body; a query for this schema is a few
// kilobytes.
const DefaultMaxBodyBytes = 1 << 20

// overHTTP serves GraphQL over HTTP as the GraphQL Foundation's
// specification asks: GET for queries only (405 otherwise), POST with
// application/json (415 otherwise), Accept negotiation between
// application/graphql-response+json and application/json (406 when
// neither is acceptable), 400 for malformed requests, and, for
// application/graphql-response+json, 4xx when the document fails to parse,
// validate or coerce its variables. Request errors never carry a data entry
// and never echo the request body.
type overHTTP struct {
	maxBodyBytes int64
	observer     Observer
	// hideSuggestions takes "Did you mean" out of error messages, which
	// would otherwise rebuild a schema that introspection hides.
	hideSuggestions bool
	// maxResponseBytes bounds the data of an answer; <= 0: no bound.
	maxResponseBytes int64
	// trusted resolves documentId, doc_id and APQ hashes; with
	// trustedOnly, no other document runs.
	trusted     *TrustedDocuments
	trustedOnly bool
}

var _ graphql.Transport = overHTTP{}

// Supports claims every request but CORS preflights and upgrades, so that
// unsupported methods get a proper 405 instead of a generic error.
func (overHTTP) Supports(r *http.Request) bool {
	return r.Method != http.MethodOptions && r.Header.Get("Upgrade") == ""
}

func (t overHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := time.Now()
	// The executor writes the answer's data into a pooled buffer, given
	// back once the answer is written (nothing keeps its bytes: the
	// response cache copies what it keeps).
	ctx, giveBack := fastpath.LendAnswerBuffer(r.Context())
	defer giveBack()
	a := t.answer(w, r.WithContext(ctx), exec)
	if a.resp != nil {
		keepAnswer(r.Context(), a)
		writeResponse(w, a.media, a.status, a.resp, meterFrom(r.Context()))
	}
	t.observer.Operation(r.Context(), Operation{Name: a.operation, Outcome: outcome(a), Elapsed: time.Since(start)})
}

// answer is what Do writes: nothing when resp is nil.
type answer struct {
	media     string
	status    int
	resp      *graphql.Response
	operation string // the operation's name, "" when anonymous or unknown
}

func requestError(media string, status int, msg string) answer {
	return answer{media: media, status: status, resp: &graphql.Response{Errors: gqlerror.List{{
		Message:    msg,
		Extensions: map[string]any{"code": "BAD_REQUEST"},
	}}}}
}

func (t overHTTP) answer(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) answer {
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		return requestError(mediaJSON, http.StatusNotAcceptable, "Accept must allow application/graphql-response+json or application/json")
	}
	params := &graphql.RawParams{Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	var status int
	var err error
	var docID string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		status, err = readGET(r, params, &docID)
	case http.MethodPost:
		status, err = t.readPOST(w, r, params, &docID)
	default:
		w.Header().Set("Allow", "GET, POST")
		status, err = http.StatusMethodNotAllowed, errors.New("GraphQL is served over GET and POST")
	}
	if err != nil {
		return requestError(media, status, err.Error())
	}
	params.ReadTime.End = graphql.Now()
	if a, refused := t.trustedDocument(media, params, docID); refused {
		return a
	}

	if r.Method != http.MethodPost && isMutation(params.Query, params.OperationName) {
		w.Header().Set("Allow", "POST")
		return requestError(media, http.StatusMethodNotAllowed, "mutations are not allowed over GET; use POST")
	}

	ctx := r.Context()
	rc, errs := exec.CreateOperationContext(ctx, params)
	// A document that fails to parse or validate has no operation: its
	// name is then only what the request's operationName said.
	name := params.OperationName
	if rc != nil && rc.Operation != nil {
		name = rc.Operation.Name
	}
	if errs != nil {
		errs = t.fewerErrors(errs)
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse && !persistedQueryMiss(errs) {
			status = http.StatusBadRequest
		}
		return answer{media: media, status: status, operation: name,
			resp: &graphql.Response{Errors: resp.Errors, Extensions: resp.Extensions}}
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	switch {
	case resp == nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The executor answers nothing once the request's context is
		// done; here the deadline passed before execution began.
		resp = &graphql.Response{Errors: gqlerror.List{{
			Message:    graph.MsgOutOfTime,
			Extensions: map[string]any{"code": graph.CodeUpstreamUnavailable},
		}}}
	case resp == nil, len(resp.Errors) > 0 && errors.Is(ctx.Err(), context.Canceled):
		// The caller hung up, before execution or while it waited on
		// Cognigy: there is no one to write to, and the errors are the
		// cancellation's echo, not failures.
		return answer{media: media, operation: name}
	}
	if t.maxResponseBytes > 0 && int64(len(resp.Data)) > t.maxResponseBytes {
		// The estimate let it through; the answer is not sent all the
		// same. Execution began, so data is present, and null.
		resp = &graphql.Response{Data: []byte("null"), Errors: gqlerror.List{{
			Message:    "the answer is larger than " + strconv.FormatInt(t.maxResponseBytes, 10) + " bytes; ask for fewer fields or smaller pages",
			Extensions: map[string]any{"code": CodeResponseTooLarge},
		}}}
	}
	return answer{media: media, status: http.StatusOK, resp: resp, operation: name}
}

// trustedDocument puts the text of the trusted document a request names
// in its parameters, and, with trustedOnly, refuses every other document.
func (t overHTTP) trustedDocument(media string, p *graphql.RawParams, docID string) (answer, bool) {
	refuse := func(code, msg string) (answer, bool) {
		a := requestError(media, http.StatusBadRequest, msg)
		a.resp.Errors[0].Extensions["code"] = code
		if media == mediaJSON {
			a.status = http.StatusOK
		}
		return a, true
	}
	if docID == "" && t.trusted != nil {
		// An automatic persisted query's hash may name a trusted document.
		if pq, ok := p.Extensions["persistedQuery"].(map[string]any); ok && p.Query == "" {
			if h, ok := pq["sha256Hash"].(string); ok {
				if text, ok := t.trusted.lookup(h); ok {
					p.Query = text
				}
			}
		}
	}
	switch {
	case docID != "":
		text, ok := t.trusted.lookup(docID)
		if !ok {
			return refuse(CodeTrustedDocumentUnknown, "no trusted document has this id")
		}
		if p.Query != "" && p.Query != text {
			return refuse("BAD_REQUEST", "the query does not match the document the id names")
		}
		p.Query = text
	case t.trustedOnly && !t.trusted.trusts(p.Query):
		return refuse(CodeTrustedDocumentOnly, "this server runs trusted documents only: send a documentId from its manifest")
	}
	return answer{}, false
}

// fewerErrors keeps the first MaxErrors errors of a failed parse or
// validation, saying so in one more, and takes the suggestions out of
// their messages when they must not reveal the schema.
func (t overHTTP) fewerErrors(errs gqlerror.List) gqlerror.List {
	if len(errs) > MaxErrors {
		errs = append(errs[:MaxErrors:MaxErrors], &gqlerror.Error{
			Message:    "more than " + strconv.Itoa(MaxErrors) + " errors; the others are not listed",
			Extensions: map[string]any{"code": CodeTooManyErrors},
		})
	}
	if t.hideSuggestions {
		for _, e := range errs {
			// gqlparser appends its suggestions as a last sentence.
			if i := strings.Index(e.Message, " Did you mean "); i >= 0 {
				e.Message = e.Message[:i]
			}
		}
	}
	return errs
}

// outcome sums an answer up for metrics: "ok", "canceled" when the caller
// hung up and nothing was written, or the code of its first error (a
// bounded set: this server's codes and gqlgen's).
func outcome(a answer) string {
	switch {
	case a.resp == nil:
		return "canceled"
	case len(a.resp.Errors) == 0:
		return "ok"
	}
	if c, ok := a.resp.Errors[0].Extensions["code"].(string); ok {
		return c
	}
	return graph.CodeInternal
}

// negotiate picks the response media type from Accept: the acceptable type
// with the highest weight, graphql-response+json on a tie; a missing Accept
// (and */*) means application/json, which every client understands.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var candidate string
		switch mt {
		case mediaGraphQLResponse:
			candidate = mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			candidate = mediaJSON
		default:
			continue
		}
		if q > bestQ || (q == bestQ && q > 0 && candidate == mediaGraphQLResponse) {
			best, bestQ = candidate, q
		}
	}
	return best, bestQ > 0
}

func readGET(r *http.Request, p *graphql.RawParams, docID *string) (int, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return http.StatusBadRequest, errors.New("the query string is malformed")
	}
	p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
	*docID = q.Get("documentId")
	if *docID == "" {
		*docID = q.Get("doc_id")
	}
	if v := q.Get("variables"); v != "" {
		if err := decodeJSON(strings.NewReader(v), &p.Variables); err != nil {
			return http.StatusBadRequest, errors.New("variables must be a JSON object")
		}
	}
	if v := q.Get("extensions"); v != "" {
		if err := decodeJSON(strings.NewReader(v), &p.Extensions); err != nil {
			return http.StatusBadRequest, errors.New("extensions must be a JSON object")
		}
	}
	return checkParams(p, *docID)
}

func (t overHTTP) readPOST(w http.ResponseWriter, r *http.Request, p *graphql.RawParams, docID *string) (int, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaJSON {
		return http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return http.StatusUnsupportedMediaType, errors.New("the body must be UTF-8")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, errors.New("the body is larger than " + strconv.FormatInt(t.maxBodyBytes, 10) + " bytes")
	case err != nil:
		return http.StatusBadRequest, errors.New("the body could not be read")
	}
	// One decoding of the body (it was two, a map of raw values and then
	// the parameters: twice the time for a body of 800 KiB of variables).
	// A syntax error, trailing data or anything but an object is "not a
	// JSON object"; a well-formed object with a member of the wrong type
	// says which members must be what.
	pb := postBody{RawParams: p}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return http.StatusBadRequest, errors.New("the body must be a JSON object")
	}
	if err := decodeJSON(bytes.NewReader(body), &pb); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return http.StatusBadRequest, errors.New("the body must be a JSON object")
		}
		return http.StatusBadRequest, errors.New("query and operationName must be strings, variables and extensions objects")
	}
	for _, id := range []struct {
		name string
		v    json.RawMessage
	}{{"documentId", pb.DocumentID}, {"doc_id", pb.DocID}} {
		if id.v != nil && *docID == "" && string(id.v) != "null" {
			if err := json.Unmarshal(id.v, docID); err != nil {
				return http.StatusBadRequest, errors.New(id.name + " must be a string")
			}
		}
	}
	return checkParams(p, *docID)
}

// postBody is a POST's JSON body: gqlgen's parameters and the trusted
// document's id under either of its two names.
type postBody struct {
	*graphql.RawParams
	DocumentID json.RawMessage `json:"documentId"`
	DocID      json.RawMessage `json:"doc_id"`
}

// checkParams refuses a request without a document, unless it names a
// persisted query or a trusted document.
func checkParams(p *graphql.RawParams, docID string) (int, error) {
	if p.Query == "" && docID == "" && p.Extensions["persistedQuery"] == nil {
		return http.StatusBadRequest, errors.New("the request has no query")
	}
	return 0, nil
}

func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// isMutation reports whether the operation a GET would run is a mutation.
// A document that does not parse is left to the executor's own error.
func isMutation(query, operationName string) bool {
	if !strings.Contains(query, "mutation") {
		return false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return false
	}
	if op := doc.Operations.ForName(operationName); op != nil {
		return op.Operation == ast.Mutation
	}
	return false
}

// persistedQueryMiss reports the APQ handshake's "send the full query"
// answer, which clients expect with status 200.
func persistedQueryMiss(errs gqlerror.List) bool {
	for _, e := range errs {
		if c, _ := e.Extensions["code"].(string); c != "PERSISTED_QUERY_NOT_FOUND" && c != "PERSISTED_QUERY_NOT_SUPPORTED" {
			return false
		}
	}
	return len(errs) > 0
}

// writeResponse writes errors, data and extensions. The data is the
// executor's JSON as it is, without json.Marshal validating and re-escaping
// all of it again. The upstream calls come last, as
// "upstreamCalls":{"estimated":E,"spent":S}}}, which is how the response
// cache finds them (see cachedBody).
func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response, m *meter) {
	h := w.Header()
	h.Set("Content-Type", media+"; charset=utf-8")
	head := make([]byte, 0, 64)
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"errors":[{"message":"internal server error"}]}`)
			return
		}
		head = append(head, `"errors":`...)
		head = append(head, errs...)
		head = append(head, ',')
	}
	tail := make([]byte, 0, 96)
	if len(resp.Data) > 0 {
		head = append(head, `"data":`...)
		tail = append(tail, ',')
	}
	tail = append(tail, `"extensions":{`...)
	for k, v := range resp.Extensions {
		if k == "upstreamCalls" {
			continue
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			continue
		}
		tail = append(append(append(tail, kb...), ':'), vb...)
		tail = append(tail, ',')
	}
	var estimated, spent int64
	if m != nil {
		estimated, spent = m.estimated.Load(), m.spent.Load()
	}
	tail = append(tail, `"upstreamCalls":{"estimated":`...)
	tail = strconv.AppendInt(tail, estimated, 10)
	tail = append(tail, `,"spent":`...)
	tail = strconv.AppendInt(tail, spent, 10)
	tail = append(tail, "}}}"...)
	// With its length known the answer goes out in one piece, not in
	// chunks.
	h.Set("Content-Length", strconv.Itoa(len(head)+len(resp.Data)+len(tail)))
	w.WriteHeader(status)
	_, _ = w.Write(head)
	_, _ = w.Write(resp.Data)
	_, _ = w.Write(tail)
}
