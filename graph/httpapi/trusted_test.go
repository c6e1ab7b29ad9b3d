package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/usersgraph/usersgraph/graph/graphtest"
	"github.com/usersgraph/usersgraph/graph/httpapi"
)

const trustedQuery = "query Count { users(first: 1) { totalCount } }"

func trustedManifests(t *testing.T) map[string][]byte {
	t.Helper()
	sum := sha256.Sum256([]byte(trustedQuery))
	hash := hex.EncodeToString(sum[:])
	apollo, err := json.Marshal(map[string]any{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]any{{"id": hash, "name": "Count", "type": "query", "body": trustedQuery}},
	})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := json.Marshal(map[string]string{"relay-md5-id": trustedQuery})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"apollo": apollo, "relay": relay}
}

func TestTrustedDocuments(t *testing.T) {
	sum := sha256.Sum256([]byte(trustedQuery))
	hash := hex.EncodeToString(sum[:])
	manifests := trustedManifests(t)
	cases := []struct {
		name, manifest string
		only           bool
		body           map[string]any
		code           string // "" = answered
	}{
		{"a documentId from Apollo's manifest runs its document", "apollo", true, map[string]any{"documentId": hash}, ""},
		{"a documentId with the sha256: prefix runs too", "apollo", true, map[string]any{"documentId": "sha256:" + hash}, ""},
		{"Relay's doc_id runs its document", "relay", true, map[string]any{"doc_id": "relay-md5-id"}, ""},
		{"an APQ hash of a trusted document runs it", "relay", true, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}, ""},
		{"the text of a trusted document runs", "apollo", true, map[string]any{"query": trustedQuery}, ""},
		{"an unknown id is refused", "apollo", false, map[string]any{"documentId": "nope"}, httpapi.CodeTrustedDocumentUnknown},
		{"another document is refused in trusted-only mode", "apollo", true, map[string]any{"query": "{ users(first: 2) { totalCount } }"}, httpapi.CodeTrustedDocumentOnly},
		{"an APQ registration of another document is refused in trusted-only mode", "apollo", true, map[string]any{"query": "{ a: users(first: 2) { totalCount } }",
			"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": "x"}}}, httpapi.CodeTrustedDocumentOnly},
		{"another document runs when trusted-only is off", "apollo", false, map[string]any{"query": "{ users(first: 2) { totalCount } }"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := httpapi.ParseTrustedDocuments(manifests[tc.manifest])
			if err != nil {
				t.Fatal(err)
			}
			e := graphtest.Setup(t, graphtest.WithConfig(func(c *httpapi.Config) {
				c.TrustedDocuments, c.TrustedDocumentsOnly = docs, tc.only
			}))
			r := e.Post(t, tc.body, graphtest.APIKey)
			if tc.code == "" {
				var v struct{ Users struct{ TotalCount int } }
				r.MustData(t, &v)
				return
			}
			if err := r.OnlyError(t); err.Code() != tc.code {
				t.Fatalf("code %s (%s)", err.Code(), err.Message)
			}
			if n := e.Fake.TotalCalls(); n != 0 {
				t.Fatalf("%d upstream calls", n)
			}
		})
	}
	t.Run("a GET may name a document by documentId", func(t *testing.T) {
		docs, err := httpapi.ParseTrustedDocuments(manifests["apollo"])
		if err != nil {
			t.Fatal(err)
		}
		e := graphtest.Setup(t, graphtest.WithDefaultKey(graphtest.TestKey), graphtest.WithConfig(func(c *httpapi.Config) {
			c.TrustedDocuments, c.TrustedDocumentsOnly = docs, true
		}))
		req, err := graphtest.NewGET(t, e.Srv.URL+"?documentId="+url.QueryEscape(hash))
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Users struct{ TotalCount int } }
		graphtest.Do(t, req).MustData(t, &v)
	})
}

func TestAManifestMustBeOneOfTheKnownFormats(t *testing.T) {
	for _, m := range []string{`[]`, `{"format":"other","operations":[]}`, `{}`, `{"format":"apollo-persisted-query-manifest","operations":[]}`} {
		if _, err := httpapi.ParseTrustedDocuments([]byte(m)); err == nil {
			t.Errorf("%s was accepted", m)
		}
	}
}
