package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"

	"github.com/usersgraph/usersgraph/graph/httpapi"
	"github.com/usersgraph/usersgraph/graph/loaders"
	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// benchHandler is the handler over an in-process fake, called directly
// (no client socket) so that the figures are the facade's own work plus
// one loopback round trip to the fake per upstream call.
func benchHandler(b *testing.B, users []restclienttest.User, opts ...restclient.Option) (http.Handler, *restclienttest.Server) {
	b.Helper()
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey), restclienttest.WithUsers(users))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	c, err := restclient.New(fake.URL, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return httpapi.NewHandler(httpapi.Config{
		Upstream:          c,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, graphtest.TestKey),
		Lookup:            loaders.Config{Route: loaders.RouteList},
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}), fake
}

func benchQuery(b *testing.B, h http.Handler, query string) {
	b.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("status %d: %.300s", w.Code, w.Body.String())
		}
	}
}

const allScalars100 = `{ users(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name lastActive createdAt lastChanged } } } }`

func BenchmarkUsersFirst100AllScalars(b *testing.B) {
	h, _ := benchHandler(b, restclienttest.DemoUsers(300, 1))
	benchQuery(b, h, allScalars100)
}

// BenchmarkUsersFirst100AllScalarsCannedUpstream isolates the facade's own
// cost: the upstream answers with bytes recorded once from the fake, so
// its sorting and encoding are not measured.
func BenchmarkUsersFirst100AllScalarsCannedUpstream(b *testing.B) {
	fake, err := restclienttest.NewServer(restclienttest.WithAPIKey(graphtest.TestKey))
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, fake.URL+"/v2.0/users?limit=100&sort=_id:asc", nil)
	req.Header.Set("X-API-Key", graphtest.TestKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fake.Close()
	canned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	b.Cleanup(canned.Close)
	c, err := restclient.New(canned.URL)
	if err != nil {
		b.Fatal(err)
	}
	h := httpapi.NewHandler(httpapi.Config{
		Upstream:          c,
		DefaultCredential: restclient.NewCredential(restclient.APIKey, graphtest.TestKey),
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	benchQuery(b, h, allScalars100)
}

func BenchmarkUsersFirst100WithCreators(b *testing.B) {
	users, _, _ := graphtest.CreatorDataset(40, 15)
	h, _ := benchHandler(b, users)
	benchQuery(b, h, `{ users(first: 100) { edges { node { id name createdBy { name } lastChangedBy { name } } } } }`)
}

func BenchmarkUsersFirst100WithCreatorsCached(b *testing.B) {
	users, _, _ := graphtest.CreatorDataset(40, 15)
	h, fake := benchHandler(b, users, restclient.WithCache(1<<40, 10000))
	benchQuery(b, h, `{ users(first: 100) { edges { node { id name createdBy { name } lastChangedBy { name } } } } }`)
	b.ReportMetric(float64(fake.TotalCalls())/float64(b.N), "upstream-calls/op")
}
