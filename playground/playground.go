// Package playground serves a GraphiQL playground from assets embedded in the
// binary: the page works offline and loads nothing from other hosts.
//
// The assets in dist/ are built from this folder's sources by build.sh (see
// README.md) and committed, so building the server needs no Node.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// AssetsPath is where, below the handler's root, the page's scripts and
// styles are served. A server that mounts the handler at / routes both
// "/" and "/"+AssetsPath to it.
const AssetsPath = "assets/"

// Config is what the page is given.
type Config struct {
	// Endpoint is the GraphQL endpoint: a path on this server ("/graphql",
	// the default when empty) or an absolute URL.
	Endpoint string
	// Headers pre-fill the request headers editor, e.g. {"X-API-Key": ""}
	// to show callers where their key goes. Empty values are not sent.
	Headers map[string]string
	// Title is the page's title; "GraphiQL" when empty.
	Title string
	// DefaultQuery is the first tab's query while the browser has none
	// stored; a built-in example when empty.
	DefaultQuery string
}

// pageConfig is the JSON that the page reads from <script id="config">.
type pageConfig struct {
	Endpoint     string            `json:"endpoint"`
	Headers      map[string]string `json:"headers"`
	Title        string            `json:"title"`
	DefaultQuery string            `json:"defaultQuery,omitempty"`
}

// The markers in dist/index.html that Handler fills in.
const (
	titleMarker  = "{{title}}"
	configMarker = "{{config}}"
)

// Handler serves the page at its root ("/", or "" below http.StripPrefix)
// with cfg written into it, and the assets below AssetsPath. Assets have
// content-hashed names and are cached for good; the page is revalidated by
// its ETag. Anything else is 404; methods other than GET and HEAD are 405.
func Handler(cfg Config) http.Handler {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "/graphql"
	}
	if cfg.Title == "" {
		cfg.Title = "GraphiQL"
	}
	headers := cfg.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	// json.Marshal escapes <, > and & (and U+2028, U+2029), so no value can
	// close the <script> element or open a comment inside it.
	conf, err := json.Marshal(pageConfig{Endpoint: cfg.Endpoint, Headers: headers, Title: cfg.Title, DefaultQuery: cfg.DefaultQuery})
	if err != nil {
		panic(fmt.Sprintf("playground: %v", err)) // a map of strings always marshals
	}
	a := loadAssets()
	tmpl := string(a.index)
	if strings.Count(tmpl, titleMarker) != 1 || strings.Count(tmpl, configMarker) != 1 {
		panic("playground: dist/index.html lacks its {{title}} or {{config}} marker; rebuild it with build.sh")
	}
	page := []byte(strings.NewReplacer(titleMarker, html.EscapeString(cfg.Title), configMarker, string(conf)).Replace(tmpl))
	return &handler{
		assets: a,
		index:  &file{name: "index.html", data: page, size: int64(len(page))},
		csp:    contentSecurityPolicy(cfg.Endpoint),
	}
}

type handler struct {
	assets *assets
	index  *file
	csp    string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var f *file
	immutable := false
	switch {
	case p == "/" || p == "":
		f = h.index
	case strings.HasPrefix(strings.TrimPrefix(p, "/"), AssetsPath):
		f = h.assets.files[strings.TrimPrefix(strings.TrimPrefix(p, "/"), AssetsPath)]
		immutable = f != nil && hashedName.MatchString(f.name)
	}
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType(f.name))
	hd.Set("X-Content-Type-Options", "nosniff")
	if f == h.index {
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("Referrer-Policy", "no-referrer")
	} else if immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	var body io.ReadSeeker
	etag := f.etagOf()
	if f.size >= 1024 {
		if compressible(f.name) {
			hd.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				if gz := f.gzipped(); gz != nil {
					body, etag = bytes.NewReader(gz), strings.TrimSuffix(etag, `"`)+`-gzip"`
					hd.Set("Content-Encoding", "gzip")
				}
			}
		}
	}
	if body == nil {
		rs, closeFile, err := f.open()
		if err != nil {
			http.Error(w, "playground asset unreadable", http.StatusInternalServerError)
			return
		}
		defer closeFile()
		body = rs
	}
	hd.Set("ETag", etag)
	// ServeContent answers If-None-Match (304), ranges and HEAD.
	http.ServeContent(w, r, f.name, time.Time{}, body)
}

// hashedName matches the content-hashed names that build.mjs gives assets.
var hashedName = regexp.MustCompile(`-([A-Z0-9]{8})\.[a-z0-9]+$`)

// contentSecurityPolicy lets the page load only from this server (data: URLs
// for the fonts inside the CSS) and talk only to it and the endpoint.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Scheme != "" && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self' 'unsafe-inline'", // Monaco adds <style> elements
		"img-src 'self' data:",
		"font-src 'self' data:",
		"worker-src 'self'",
		"connect-src " + connect,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'self'",
	}, "; ")
}

// file is the page (data, filled in at start) or an embedded asset (path),
// served straight from the binary's read-only data: nothing is copied to
// the heap until a browser asks for the gzipped form. The server's memory
// thus does not grow by the playground's 7 MB unless it is used.
type file struct {
	name string
	data []byte // the page; nil for an asset
	path string // the asset's path in dist
	size int64

	etagOnce sync.Once
	etag     string

	gzOnce sync.Once
	gz     []byte
}

// open reads the file from the start.
func (f *file) open() (io.ReadSeeker, func(), error) {
	if f.data != nil {
		return bytes.NewReader(f.data), func() {}, nil
	}
	af, err := dist.Open(f.path)
	if err != nil {
		return nil, nil, err
	}
	rs, ok := af.(io.ReadSeeker)
	if !ok { // embed.FS files always seek
		af.Close()
		return nil, nil, fmt.Errorf("playground: %s cannot seek", f.path)
	}
	return rs, func() { af.Close() }, nil
}

// etagOf is a hash of the content. An asset whose name carries its content
// hash (build.mjs names them so) uses that; others are hashed when first
// served.
func (f *file) etagOf() string {
	f.etagOnce.Do(func() {
		if f.data == nil {
			if m := hashedName.FindStringSubmatch(f.name); m != nil {
				f.etag = `"` + m[1] + `"`
				return
			}
		}
		h := sha256.New()
		if rs, closeFile, err := f.open(); err == nil {
			_, _ = io.Copy(h, rs)
			closeFile()
		}
		f.etag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	})
	return f.etag
}

// gzipped is the file compressed once, when first asked for; nil when
// compression does not make it smaller.
func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		rs, closeFile, err := f.open()
		if err != nil {
			return
		}
		defer closeFile()
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
		n, err := io.Copy(zw, rs)
		if err == nil && zw.Close() == nil && int64(b.Len()) < n {
			f.gz = b.Bytes()
		}
	})
	return f.gz
}

type assets struct {
	index []byte           // dist/index.html, markers unfilled
	files map[string]*file // dist/assets/, by name
}

// loadAssets lists the embedded files once per process.
var loadAssets = sync.OnceValue(listAssets)

// listAssets lists the embedded files; their contents stay where go:embed
// put them.
func listAssets() *assets {
	a := &assets{files: map[string]*file{}}
	var err error
	if a.index, err = dist.ReadFile("dist/index.html"); err != nil {
		panic("playground: dist/index.html is missing; build it with build.sh")
	}
	entries, err := fs.ReadDir(dist, "dist/"+strings.TrimSuffix(AssetsPath, "/"))
	if err != nil {
		panic(fmt.Sprintf("playground: %v", err))
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			panic(fmt.Sprintf("playground: %v", err))
		}
		a.files[e.Name()] = &file{name: e.Name(), path: path.Join("dist", AssetsPath, e.Name()), size: info.Size()}
	}
	return a
}

// contentType does not depend on the machine's MIME tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".ttf":
		return "font/ttf"
	case ".woff":
		return "font/woff"
	case ".woff2":
		return "font/woff2"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".ttf":
		return true
	}
	return false
}

// acceptsGzip reads an Accept-Encoding header: gzip, or else *, with a
// q-value above zero.
func acceptsGzip(h string) bool {
	gzip, star := -1.0, -1.0
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzip = q
		case "*":
			star = q
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}
