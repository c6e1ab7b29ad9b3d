package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/httpapi/hostile"
)

// TestHostileOperations sends the hostile corpus through the real handler:
// each request is refused with its code and no upstream call, or answered
// without errors within its upstream budget.
func TestHostileOperations(t *testing.T) {
	cases, err := hostile.Load("testdata/hostile")
	if err != nil {
		t.Fatal(err)
	}
	on := graphtest.Setup(t)
	off := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) { c.DisableIntrospection = true }))
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			e := on
			if tc.IntrospectionOff {
				e = off
			}
			e.Fake.ResetCounts()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Srv.URL, bytes.NewReader(tc.Body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(graphtest.APIKey.Name, graphtest.APIKey.Value)
			r := graphtest.Do(t, req)
			if r.Status >= 500 {
				t.Fatalf("status %d", r.Status)
			}
			if tc.NotIn != "" && strings.Contains(r.Raw, tc.NotIn) {
				t.Fatalf("the answer says %q: %s", tc.NotIn, graphtest.Short(r.Raw))
			}
			if len(r.Raw) > httpapi.DefaultMaxResponseBytes {
				t.Fatalf("the answer has %d bytes", len(r.Raw))
			}
			if tc.Want == "" {
				r.MustData(t, &map[string]any{})
				est, spent := upstreamCalls(t, r)
				if spent > est || est > httpapi.DefaultMaxUpstreamCalls {
					t.Fatalf("estimated %d, spent %d calls", est, spent)
				}
				if n := int64(e.Fake.TotalCalls()); n > est {
					t.Fatalf("%d upstream calls, %d estimated", n, est)
				}
				return
			}
			if len(r.Errors) == 0 {
				t.Fatalf("answered: %s", graphtest.Short(r.Raw))
			}
			got := r.Errors[0].Code()
			if tc.Want == httpapi.CodeTooManyErrors {
				if len(r.Errors) != httpapi.MaxErrors+1 {
					t.Fatalf("%d errors listed", len(r.Errors))
				}
				got = r.Errors[len(r.Errors)-1].Code()
			}
			if got != tc.Want {
				t.Fatalf("code %s (%s), want %s", got, r.Errors[0].Message, tc.Want)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls before the refusal", n)
			}
		})
	}
	if strings.Contains(off.Logs.String(), `"level":"ERROR"`) {
		t.Fatalf("refusals were logged as errors:\n%s", off.Logs.String())
	}
}
