package playground_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/playground"
)

// get sends one request to h and returns the response and its body as sent
// (not decompressed).
func get(t *testing.T, h http.Handler, method, target string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// configScript returns what a browser reads as the config element's text:
// script data ends at the first "</script", whatever the case.
func configScript(t *testing.T, page string) string {
	t.Helper()
	const open = `<script id="config" type="application/json">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatalf("no config element in the page:\n%s", page)
	}
	rest := page[i+len(open):]
	end := strings.Index(strings.ToLower(rest), "</script")
	if end < 0 {
		t.Fatal("the config element is never closed")
	}
	return rest[:end]
}

type pageConfig struct {
	Endpoint     string            `json:"endpoint"`
	Headers      map[string]string `json:"headers"`
	Title        string            `json:"title"`
	DefaultQuery string            `json:"defaultQuery"`
}

func TestIndexCarriesTheConfig(t *testing.T) {
	h := playground.Handler(playground.Config{
		Endpoint:     "/graphql",
		Headers:      map[string]string{"X-API-Key": "demo-key"},
		Title:        "usersgraph",
		DefaultQuery: "{ users(first: 3) { nodes { name } } }",
	})
	resp, body := get(t, h, http.MethodGet, "/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("Cache-Control %q: the page must be revalidated", cc)
	}
	page := string(body)
	var got pageConfig
	if err := json.Unmarshal([]byte(configScript(t, page)), &got); err != nil {
		t.Fatalf("the config is not JSON: %v", err)
	}
	want := pageConfig{Endpoint: "/graphql", Headers: map[string]string{"X-API-Key": "demo-key"}, Title: "usersgraph", DefaultQuery: "{ users(first: 3) { nodes { name } } }"}
	if got.Endpoint != want.Endpoint || got.Title != want.Title || got.DefaultQuery != want.DefaultQuery ||
		len(got.Headers) != 1 || got.Headers["X-API-Key"] != "demo-key" {
		t.Fatalf("config %+v, want %+v", got, want)
	}
	if !strings.Contains(page, "<title>usersgraph</title>") {
		t.Fatalf("no title in the page:\n%s", page)
	}
	if strings.Contains(page, "{{") {
		t.Fatalf("a marker was left unfilled:\n%s", page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}

	// Revalidation by ETag.
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on the page")
	}
	if resp, _ := get(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

func TestDefaults(t *testing.T) {
	resp, body := get(t, playground.Handler(playground.Config{}), http.MethodGet, "/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got pageConfig
	if err := json.Unmarshal([]byte(configScript(t, string(body))), &got); err != nil {
		t.Fatal(err)
	}
	if got.Endpoint != "/graphql" || got.Title != "GraphiQL" || got.Headers == nil || len(got.Headers) != 0 || got.DefaultQuery != "" {
		t.Fatalf("defaults %+v", got)
	}
}

func TestConfigCannotBreakOutOfThePage(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--<script>`
	h := playground.Handler(playground.Config{
		Endpoint:     "/graphql?x=" + evil,
		Headers:      map[string]string{"X-API-Key": evil, evil: "v\u2028\u2029"},
		Title:        `</title><script>alert(2)</script>&amp;`,
		DefaultQuery: "# " + evil + "\n{ users { totalCount } }",
	})
	_, body := get(t, h, http.MethodGet, "/", nil)
	page := string(body)
	raw := configScript(t, page)
	if strings.ContainsAny(raw, "<>") {
		t.Fatalf("the config element holds < or >: %s", raw)
	}
	var got pageConfig
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("the config element is not the whole JSON: %v\n%s", err, raw)
	}
	if got.Headers["X-API-Key"] != evil || got.Headers[evil] != "v\u2028\u2029" || got.Endpoint != "/graphql?x="+evil {
		t.Fatalf("the values did not survive escaping: %+v", got)
	}
	if strings.Count(page, "<script") != 2 || strings.Contains(page, "alert(") && !strings.Contains(raw, "alert(") {
		t.Fatalf("markup was injected:\n%s", page)
	}
	if !strings.Contains(page, "<title>&lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;&amp;amp;</title>") {
		t.Fatalf("the title is not escaped:\n%s", page)
	}
}

// assetRefs are the src and href attributes of the page.
var assetRefs = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)

func TestAssetsAreServed(t *testing.T) {
	h := playground.Handler(playground.Config{})
	_, body := get(t, h, http.MethodGet, "/", nil)
	refs := assetRefs.FindAllStringSubmatch(string(body), -1)
	var js, css int
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," { // the empty favicon
			continue
		}
		if !strings.HasPrefix(ref, playground.AssetsPath) {
			t.Errorf("the page refers to %q, not to an embedded asset", ref)
			continue
		}
		resp, got := get(t, h, http.MethodGet, "/"+ref, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", ref, resp.StatusCode)
			continue
		}
		want, err := os.ReadFile(filepath.Join("dist", filepath.FromSlash(ref)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the body is not the file", ref)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q for a content-hashed name", ref, cc)
		}
		if resp.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", ref)
		}
		switch ct := resp.Header.Get("Content-Type"); path.Ext(ref) {
		case ".js":
			js++
			if ct != "text/javascript; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
		case ".css":
			css++
			if ct != "text/css; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", ref, ct)
			}
		default:
			t.Errorf("unexpected asset %s", ref)
		}
	}
	if js != 1 || css != 1 {
		t.Fatalf("the page loads %d scripts and %d style sheets, want 1 and 1", js, css)
	}

	// Every file in dist/assets/ is served, HEAD too.
	entries, err := os.ReadDir(filepath.Join("dist", "assets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		resp, body := get(t, h, http.MethodHead, "/"+playground.AssetsPath+e.Name(), nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: status %d, %d bytes, Content-Type %q", e.Name(), resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
		}
	}
}

func TestAssetsAreCompressedForClientsThatAsk(t *testing.T) {
	h := playground.Handler(playground.Config{})
	name := firstAsset(t, ".css")
	want, err := os.ReadFile(filepath.Join("dist", "assets", name))
	if err != nil {
		t.Fatal(err)
	}
	target := "/" + playground.AssetsPath + name

	resp, body := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": "br;q=1.0, gzip;q=0.8"})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, want) {
		t.Fatalf("the gzipped body is not the file (err %v)", err)
	}
	if len(body) >= len(want) {
		t.Fatalf("gzip made %d bytes of %d", len(body), len(want))
	}
	gzETag := resp.Header.Get("ETag")
	if resp, _ := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzETag}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match of the gzipped form: status %d", resp.StatusCode)
	}

	for _, ae := range []string{"", "identity", "gzip;q=0", "gzip;q=0.0, *;q=1", "br"} {
		resp, body := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": ae})
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, %d bytes", ae, resp.Header.Get("Content-Encoding"), len(body))
		}
		if resp.Header.Get("ETag") == gzETag {
			t.Errorf("Accept-Encoding %q: the plain form has the gzipped form's ETag", ae)
		}
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	h := playground.Handler(playground.Config{})
	for _, p := range []string{"/index.html", "/" + playground.AssetsPath, "/" + playground.AssetsPath + "nope.js", "/" + playground.AssetsPath + "../index.html", "/dist/index.html", "/graphql"} {
		if resp, _ := get(t, h, http.MethodGet, p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}
	resp, _ := get(t, h, http.MethodPost, "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST /: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestMountedBelowAPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/tools/playground/", http.StripPrefix("/tools/playground", playground.Handler(playground.Config{})))
	if resp, body := get(t, mux, http.MethodGet, "/tools/playground/", nil); resp.StatusCode != 200 || !bytes.Contains(body, []byte(`id="graphiql"`)) {
		t.Fatalf("page: status %d", resp.StatusCode)
	}
	if resp, _ := get(t, mux, http.MethodGet, "/tools/playground/"+playground.AssetsPath+firstAsset(t, ".js"), nil); resp.StatusCode != 200 {
		t.Fatalf("asset: status %d", resp.StatusCode)
	}
}

// beforeExternalURL matches what, right before "//", makes a browser fetch
// from another host: src/href attributes, CSS url(), importScripts, with an
// optional scheme.
var beforeExternalURL = regexp.MustCompile(`(?:(?:src|href)\s*=\s*["']?|url\(\s*["']?|importscripts\(\s*["'\x60])(?:[a-z][a-z0-9+.-]*:)?$`)

// externalHosts are CDNs and web-font hosts that no asset may name, and
// CSS @import.
var externalHosts = []string{"@import", "unpkg.com", "jsdelivr", "cdnjs", "esm.sh", "esm.run", "skypack", "jspm.io",
	"fonts.googleapis", "fonts.gstatic", "googletagmanager", "google-analytics"}

// externalLoads returns the places in b that would load from another host.
func externalLoads(b []byte) []string {
	lower := bytes.ToLower(b)
	var found []string
	excerpt := func(i, j int) string {
		return string(b[max(i-60, 0):min(j+60, len(b))])
	}
	for off := 0; ; {
		i := bytes.Index(lower[off:], []byte("//"))
		if i < 0 {
			break
		}
		i += off
		if beforeExternalURL.Match(lower[max(i-40, 0):i]) {
			found = append(found, excerpt(i, i+2))
		}
		off = i + 2
	}
	for _, h := range externalHosts {
		if i := bytes.Index(lower, []byte(h)); i >= 0 {
			found = append(found, excerpt(i, i+len(h)))
		}
	}
	return found
}

func TestNoExternalURLs(t *testing.T) {
	h := playground.Handler(playground.Config{Headers: map[string]string{"X-API-Key": ""}})
	_, page := get(t, h, http.MethodGet, "/", nil)
	files := map[string][]byte{"index.html (served)": page}
	err := filepath.WalkDir("dist", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The check itself finds what it should.
	for _, bad := range []string{`<script src="https://cdn.example/x.js">`, `<link href='//cdn.example/x.css'>`,
		`a{background:url( "http://x.example/a.png")}`, "importScripts(`https://x.example/w.js`)", `@import "x.css";`, `fonts.googleapis.com/css`} {
		if len(externalLoads([]byte(bad))) == 0 {
			t.Errorf("the check misses %s", bad)
		}
	}
	if len(files) < 4 {
		t.Fatalf("only %d files in dist/", len(files))
	}
	for name, b := range files {
		for _, e := range externalLoads(b) {
			t.Errorf("%s loads from another host: …%s…", name, e)
		}
		if strings.HasSuffix(name, ".map") {
			t.Errorf("%s: source maps are not shipped", name)
		}
	}
}

func firstAsset(t *testing.T, ext string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("dist", "assets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) && !strings.Contains(e.Name(), "worker") {
			return e.Name()
		}
	}
	t.Fatalf("no %s asset in dist/assets", ext)
	return ""
}
