package restclienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

const contractFile = "testdata/get-users.openapi.yaml"

// contract holds two routers over the same trimmed contract.
//
// strict is the contract tightened where it is loose, so the fake cannot drift
// unnoticed: list envelopes and items may carry no field the contract does
// not name, the fields the real service always sends are required, and a
// problem's code must be a numeric string.
//
// lenient is strict except that a problem's code may also be a JSON integer.
// The contract types code as a string, but the real service sends a number
// for some statuses (its own examples, such as `example: 1000`, are numbers),
// and the fake does the same on purpose so clients learn to accept both. Only
// bodies whose code is a number are checked against lenient; the test also
// pins which statuses get which kind, so the exception cannot spread.
type contract struct {
	strict, lenient routers.Router
}

func loadContract(t *testing.T) contract {
	t.Helper()
	build := func(numericCode bool) routers.Router {
		doc, err := openapi3.NewLoader().LoadFromFile(contractFile)
		if err != nil {
			t.Fatalf("load contract: %v", err)
		}
		op := doc.Paths.Value("/v2.0/users").Get
		for status, ref := range op.Responses.Map() {
			schema := ref.Value.Content.Get("application/json").Schema.Value
			if status == "200" {
				schema.WithoutAdditionalProperties().WithRequired([]string{"items", "total", "nextCursor", "previousCursor"})
				schema.Properties["items"].Value.Items.Value.
					WithoutAdditionalProperties().WithRequired([]string{"_id", "createdAt", "lastChanged"})
				continue
			}
			schema.WithRequired([]string{"type", "title", "status", "detail", "instance", "code", "traceId", "details"})
			code := openapi3.NewStringSchema().WithPattern(`^[0-9]+$`)
			if numericCode {
				code = openapi3.NewOneOfSchema(code, openapi3.NewIntegerSchema())
			}
			schema.Properties["code"] = openapi3.NewSchemaRef("", code)
		}
		// The published examples contradict their own schemas (numbers
		// where code is a string), so examples are not validated.
		r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
		if err != nil {
			t.Fatalf("contract router: %v", err)
		}
		return r
	}
	return contract{strict: build(false), lenient: build(true)}
}

// authenticate checks that a credential is present in the place the scheme
// names; which secrets are valid is beyond the contract.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, ss := in.RequestValidationInput.Request, in.SecurityScheme
	var v string
	switch {
	case ss.Type == "apiKey" && ss.In == "header":
		v = r.Header.Get(ss.Name)
	case ss.Type == "apiKey" && ss.In == "query":
		v = r.URL.Query().Get(ss.Name)
	case ss.Type == "oauth2":
		v, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if v == "" {
		return fmt.Errorf("no credential for %s", in.SecuritySchemeName)
	}
	return nil
}

// validate checks one request and its response against the contract and
// reports the request's validation error separately, because some requests in
// the test are meant to break the contract. err means the contract has no
// route for the request at all.
func (c contract) validate(ctx context.Context, req *http.Request, resp response) (reqErr, respErr, err error) {
	// Route on the path alone: the contract's server is the "/new" prefix.
	routed := req.Clone(ctx)
	routed.URL = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	router := c.strict
	var probe struct {
		Code json.RawMessage `json:"code"`
	}
	if resp.Status >= 400 && json.Unmarshal(resp.Body, &probe) == nil && len(probe.Code) > 0 && probe.Code[0] != '"' {
		router = c.lenient
	}
	route, params, err := router.FindRoute(routed)
	if err != nil {
		return nil, nil, fmt.Errorf("route %s: %w", routed.URL, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: routed, PathParams: params, Route: route, Options: opts}
	reqErr = openapi3filter.ValidateRequest(ctx, in)
	ropts := *opts
	if len(resp.Body) == 0 && resp.Status >= 400 {
		// The real service may send a 401 or 403 without any body although
		// the contract describes one; only the status is checked then.
		ropts.ExcludeResponseBody = true
	}
	respErr = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.Status,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(resp.Body)),
		Options:                &ropts,
	})
	return reqErr, respErr, nil
}

func TestContract(t *testing.T) {
	c := loadContract(t)
	s := start(t, WithForbidden("no-role"))
	first := list(t, s, q("limit", "10", "sort", "name:asc"))
	later := list(t, s, q("limit", "10", "sort", "name:asc", "skip", "40"))
	never := strings.Repeat("z", 24)

	tests := []struct {
		name       string
		query      url.Values
		header     http.Header // nil means the default X-API-Key
		fault      *Fault
		status     int
		badRequest bool // the contract itself rejects the request
		badBody    bool // the response must fail validation (proves the check bites)
	}{
		{name: "default page", status: 200},
		{name: "largest page", query: q("limit", "100"), status: 200},
		{name: "smallest page", query: q("limit", "1", "skip", "3"), status: 200},
		{name: "last page", query: q("skip", "290"), status: 200},
		{name: "past the end", query: q("skip", "1000"), status: 200},
		{name: "filter by name", query: q("filter", "Zoë"), status: 200},
		{name: "filter by e-mail", query: q("filter", "EXAMPLE.COM", "limit", "50"), status: 200},
		{name: "filter without match", query: q("filter", "nobody-at-all"), status: 200},
		{name: "multi-rule sort", query: q("sort", "name:asc,createdAt:desc"), status: 200},
		{name: "lastActive sort", query: q("sort", "lastActive:desc", "limit", "100"), status: 200},
		{name: "next cursor", query: q("limit", "10", "sort", "name:asc", "next", *first.NextCursor), status: 200},
		{name: "previous cursor", query: q("limit", "10", "sort", "name:asc", "previous", *later.PreviousCursor), status: 200},
		{name: "api_key query", query: q("api_key", testKey), header: http.Header{}, status: 200},
		{name: "bearer token", header: http.Header{"Authorization": {"Bearer " + testKey}}, status: 200},
		{name: "cxone token", header: http.Header{"X-Cxone-Authorization": {"Bearer " + testKey}}, status: 200},
		{name: "hal accept header", header: http.Header{"X-Api-Key": {testKey}, "Accept": {"application/hal+json"}}, status: 200},
		{name: "limit zero", query: q("limit", "0"), status: 400, badRequest: true},
		{name: "limit too big", query: q("limit", "101"), status: 400, badRequest: true},
		{name: "limit not a number", query: q("limit", "many"), status: 400, badRequest: true},
		{name: "negative skip", query: q("skip", "-5"), status: 400, badRequest: true},
		{name: "empty sort", query: q("sort", ""), status: 400, badRequest: true},
		{name: "short cursor", query: q("next", "abc"), status: 400, badRequest: true},
		{name: "unknown sort field", query: q("sort", "colour:asc"), status: 400},
		{name: "unknown cursor", query: q("next", never), status: 400},
		{name: "next and previous", query: q("next", never, "previous", never), status: 400},
		{name: "skip and next", query: q("skip", "0", "next", never), status: 400},
		{name: "no credential", header: http.Header{}, status: 401, badRequest: true},
		{name: "wrong credential", header: keyHeader("wrong"), status: 401},
		{name: "forbidden without body", header: keyHeader("no-role"), status: 403},
		{name: "injected 404", fault: &Fault{Status: 404}, status: 404},
		{name: "injected 500", fault: &Fault{Status: 500}, status: 500},
		{name: "injected 503", fault: &Fault{Status: 503, Header: http.Header{"Retry-After": {"3"}}}, status: 503},
		{name: "injected 504", fault: &Fault{Status: 504}, status: 504},
		{name: "wrong shape is caught", fault: &Fault{WrongShape: true}, status: 200, badBody: true},
		{name: "undocumented status is caught", fault: &Fault{Status: 418}, status: 418, badBody: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.ClearFaults()
			if tc.fault != nil {
				s.InjectFault(RouteList, *tc.fault)
			}
			header := tc.header
			if header == nil {
				header = keyHeader(testKey)
			}
			if header.Get("Accept") == "" {
				header = header.Clone()
				header.Set("Accept", "application/json")
			}
			u := s.URL + "/v2.0/users"
			if len(tc.query) > 0 {
				u += "?" + tc.query.Encode()
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = header
			resp, err := send(t.Context(), newHTTPClient(t), http.MethodGet, u, header)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.Status, tc.status, resp.Body)
			}
			checkCodeKind(t, resp)
			reqErr, respErr, err := c.validate(t.Context(), req, resp)
			if err != nil {
				t.Fatal(err)
			}
			if (reqErr != nil) != tc.badRequest {
				t.Errorf("request validation: %v (want failure: %v)", reqErr, tc.badRequest)
			}
			if (respErr != nil) != tc.badBody {
				t.Errorf("response validation: %v (want failure: %v)", respErr, tc.badBody)
			}
		})
	}
}

// checkCodeKind pins which statuses carry code as a number, so the lenient
// contract only ever excuses those.
func checkCodeKind(t *testing.T, r response) {
	t.Helper()
	if r.Status < 400 || len(r.Body) == 0 {
		return
	}
	var p struct {
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	numeric := len(p.Code) > 0 && p.Code[0] != '"'
	switch r.Status {
	case 400, 404, 405, 409:
		if !numeric {
			t.Errorf("status %d carries code %s, want a number", r.Status, p.Code)
		}
	default:
		if numeric {
			t.Errorf("status %d carries code %s, want a string", r.Status, p.Code)
		}
	}
}
