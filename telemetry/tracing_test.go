package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
	"github.com/usersgraph/usersgraph/telemetry"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// tracedStack is a facade over the fake whose spans go to an in-memory
// exporter, wired as cmd/usersgraph wires it.
func tracedStack(t *testing.T) (*tracetest.InMemoryExporter, *restclienttest.Server, *httptest.Server) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(key), restclienttest.WithUsers(restclienttest.DemoUsers(50, 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	hc := restclient.NewHTTPClient()
	hc.Transport = otelhttp.NewTransport(hc.Transport, otelhttp.WithTracerProvider(tp))
	c, err := restclient.New(fake.URL, restclient.WithDoer(hc), restclient.WithObserver(telemetry.New()))
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.NewHandler(httpapi.Config{
		Upstream:          c,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, key),
		Tracer:            tp,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return exp, fake, srv
}

func spanNamed(spans tracetest.SpanStubs, name string) (tracetest.SpanStub, int) {
	var first tracetest.SpanStub
	n := 0
	for _, s := range spans {
		if s.Name == name {
			if n == 0 {
				first = s
			}
			n++
		}
	}
	return first, n
}

func TestTracesShowTheOperationItsResolversAndUpstreamCalls(t *testing.T) {
	exp, _, srv := tracedStack(t)
	post(t, srv.URL, `query Last { users(last: 3) { nodes { name createdBy { name } } } }`)
	spans := exp.GetSpans()
	op, n := spanNamed(spans, "query Last")
	if n != 1 {
		t.Fatalf("%d operation spans; spans: %v", n, names(spans))
	}
	users, n := spanNamed(spans, "Query.users")
	if n != 1 || users.Parent.SpanID() != op.SpanContext.SpanID() {
		t.Fatalf("Query.users is not one child of the operation; spans: %v", names(spans))
	}
	if _, n := spanNamed(spans, "User.createdBy"); n != 3 {
		t.Fatalf("%d User.createdBy spans for 3 users", n)
	}
	var upstream int
	for _, s := range spans {
		if s.SpanKind.String() == "client" {
			upstream++
			if s.SpanContext.TraceID() != op.SpanContext.TraceID() {
				t.Fatal("an upstream span is outside the operation's trace")
			}
		}
	}
	if upstream < 2 { // the page, then the creators' lookups
		t.Fatalf("%d upstream client spans; spans: %v", upstream, names(spans))
	}
	for _, ev := range users.Events {
		if ev.Name == "cognigy request" {
			return
		}
	}
	t.Fatalf("Query.users has no cognigy request event: %+v", users.Events)
}

func TestATracedUpstreamErrorCarriesCognigysTraceID(t *testing.T) {
	exp, fake, srv := tracedStack(t)
	fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 400})
	post(t, srv.URL, `query Bad { users(first: 1) { totalCount } }`)
	spans := exp.GetSpans()
	users, n := spanNamed(spans, "Query.users")
	if n != 1 || users.Status.Code != codes.Error {
		t.Fatalf("Query.users: %d spans, status %v", n, users.Status)
	}
	for _, a := range users.Attributes {
		if a.Key == "cognigy.trace_id" && strings.HasPrefix(a.Value.AsString(), "api--") {
			if op, _ := spanNamed(spans, "query Bad"); op.Status.Code != codes.Error {
				t.Fatalf("the operation span's status is %v", op.Status)
			}
			return
		}
	}
	t.Fatalf("no cognigy.trace_id on Query.users: %v", users.Attributes)
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestTracingIsSwitchedByTheStandardVariables(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
		}
	}))
	defer collector.Close()
	cases := []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"nothing set is off", nil, false, ""},
		{"an OTLP endpoint turns it on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}, true, ""},
		{"a traces endpoint turns it on", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.URL + "/v1/traces"}, true, ""},
		{"OTEL_SDK_DISABLED wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SDK_DISABLED": "true"}, false, ""},
		{"the none exporter is off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_TRACES_EXPORTER": "none"}, false, ""},
		{"another exporter is refused", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"grpc is refused with the way out", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "http/protobuf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v) // the exporter reads its own variables too
			}
			getenv := func(k string) string { return tc.env[k] }
			tp, err := telemetry.Tracing(t.Context(), getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tp != nil) != tc.on {
				t.Fatalf("tracing on = %v", tp != nil)
			}
			if tp == nil {
				return
			}
			before := posts.Load()
			_, span := tp.Tracer("test").Start(t.Context(), "probe")
			span.End()
			if err := tp.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			if posts.Load() == before {
				t.Fatal("no span reached the collector")
			}
		})
	}
}
