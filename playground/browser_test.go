package playground_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser the test drives: Debian's chromium package. CHROMIUM may name
// another binary.
const defaultChromium = "/usr/bin/chromium"

// The first user of the demo data set (restclienttest.DemoUsers).
const firstDemoUser = "Zoë Müller"

// TestPlaygroundInChromium builds the real server, starts it in demo mode
// and, in headless Chromium, checks that the playground loads the schema
// docs, runs a users query with the pre-filled demo key and shows a demo
// user; it saves a screenshot (PLAYGROUND_SCREENSHOT, default
// testdata/artifacts/playground.png). Without Chromium it is skipped, except
// under CI=true, where it fails.
func TestPlaygroundInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; not in -short mode")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = defaultChromium
	}
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is needed under CI (apt-get install chromium): %v", err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium): %v", chromium, err)
	}

	base := startDemoServer(t)

	// Everything in the browser, start-up included, within two minutes.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1400, 900),
	)
	defer cancelAlloc()
	ev := &browserEvents{}
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf), chromedp.WithListener(ev.record))
	defer cancelBrowser() // closes the browser and waits for it to exit
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Console errors, uncaught exceptions and the browser's log (a blocked
	// load, a CSP violation), from now on.
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		ev.collectConsole(chromedp.Console(browserCtx))
	}()
	defer func() { cancelBrowser(); <-consoleDone }()

	shot := screenshotPath(t)
	// step runs actions with a deadline of their own; on failure it saves
	// what the page shows, for the artifacts.
	step := func(name string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(browserCtx, d)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			saveScreenshot(t, browserCtx, shot)
			t.Fatalf("%s: %v\npage text:\n%s\nbrowser events:\n%s", name, err, pageText(browserCtx), ev)
		}
	}

	step("open the playground", 20*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-query-editor .monaco-editor`)),
	)

	// The docs explorer is open and shows the schema's root type, from
	// introspection through the page's fetcher.
	step("the docs explorer shows the schema", 20*time.Second,
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('.graphiql-doc-explorer-root-type + .graphiql-doc-explorer-type-name')]
			.some((a) => a.textContent.trim() === 'Query')`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	// The schema's types: the product's first, then the built-in scalars,
	// and none of federation's plumbing (the page filters its own
	// introspection; the server still answers _service and _entities).
	tctx, cancelTypes := context.WithTimeout(browserCtx, 5*time.Second)
	types, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.graphiql-doc-explorer-type-name')].map((a) => a.textContent.trim())`))
	cancelTypes()
	if err != nil {
		t.Fatalf("read the docs' types: %v", err)
	}
	if len(types) < 2 || types[0] != "Query" || types[1] != "DateTime" {
		t.Errorf("the docs list the types %v, want Query, then the product's types (DateTime first)", types)
	}
	for _, name := range types {
		if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "federation__") || strings.HasPrefix(name, "link__") ||
			name == "Entity" || name == "FieldSet" || name == "UserByIDsInput" {
			t.Errorf("the docs list the federation type %s: %v", name, types)
		}
	}

	// And the Query type's documentation lists the users field.
	step("the Query type's docs list users", 10*time.Second,
		chromedp.Click(chromedp.CSS(`.graphiql-doc-explorer-root-type + .graphiql-doc-explorer-type-name`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('.graphiql-doc-explorer-field-name')]
			.some((a) => a.textContent.trim() === 'users')`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)

	// Nor does Query show the gateways' fields.
	step("the Query type's docs hide _entities and _service", 5*time.Second,
		chromedp.Poll[chromedp.Void](`(() => {
			const names = [...document.querySelectorAll('.graphiql-doc-explorer-field-name')].map((a) => a.textContent.trim());
			return names.includes('users') && !names.includes('_entities') && !names.includes('_service');
		})()`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)

	// The headers editor holds the demo key.
	step("the headers editor is pre-filled", 10*time.Second,
		chromedp.Poll[chromedp.Void](`(document.querySelector('.graphiql-editor-tool')?.innerText || '').replace(/\u00a0/g, ' ').includes('"X-API-Key": "demo-key"')`,
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)

	// typeQuery types a query into the operation editor, replacing what is
	// there. Text is inserted as a whole, as a paste would, so the editor
	// adds no closing brackets of its own. Keys go to Monaco's input
	// textarea, focused directly; on a slow machine the editor may still be
	// settling (its workers load after the first paint) and drop the first
	// keys, so the typing is tried again until the editor shows the query.
	typeQuery := func(query string) {
		t.Helper()
		typed := fmt.Sprintf(`(document.querySelector('.graphiql-query-editor .view-lines')?.innerText || '').replace(/\u00a0/g, ' ').trim() === %q`, query)
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(browserCtx, 8*time.Second)
			err := chromedp.Do(actx,
				chromedp.Click(chromedp.CSS(`.graphiql-query-editor .monaco-editor .view-lines`)),
				chromedp.Focus(chromedp.CSS(`.graphiql-query-editor .monaco-editor textarea`)),
				chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
				chromedp.KeyEvent("\b"),
				insertText(query),
				chromedp.Poll[chromedp.Void](typed, chromedp.WithPollingInterval(50*time.Millisecond)),
			)
			cancel()
			if err == nil {
				return
			}
			if attempt == 4 {
				saveScreenshot(t, browserCtx, shot)
				t.Fatalf("type %s (%d attempts): %v\npage text:\n%s\nbrowser events:\n%s", query, attempt, err, pageText(browserCtx), ev)
			}
			t.Logf("type %s, attempt %d: %v; again", query, attempt, err)
		}
	}
	typeQuery(`{ users(first: 3) { nodes { name email } } }`)

	// Prettify it (the formatter is part of the bundle), so that the
	// screenshot shows it whole.
	step("prettify the query", 10*time.Second,
		chromedp.Click(chromedp.CSS(`.graphiql-toolbar button[aria-label^="Prettify"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('.graphiql-query-editor .view-line').length >= 5`,
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)

	// Run it with the run button; the answer names the first demo user.
	step("run the query", 20*time.Second,
		chromedp.Click(chromedp.CSS(`button.graphiql-execute-button`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector('.graphiql-response')?.innerText || '').replace(/\u00a0/g, ' ').includes(%q)`, firstDemoUser),
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	rctx, cancelRead := context.WithTimeout(browserCtx, 5*time.Second)
	response, err := chromedp.Run(rctx, chromedp.Evaluate[string](`document.querySelector('.graphiql-response').innerText.replace(/\u00a0/g, ' ')`))
	cancelRead()
	if err != nil {
		t.Fatalf("read the response: %v", err)
	}
	if strings.Contains(response, `"errors"`) {
		t.Errorf("the response has errors:\n%s", response)
	}

	// The GraphiQL Explorer builds a query by clicking, from a query that
	// selects none of its fields (so the explorer remembers no earlier
	// selection), and the run button runs it.
	typeQuery(`{ __typename }`)
	step("open the GraphiQL Explorer", 10*time.Second,
		chromedp.Click(chromedp.CSS(`.graphiql-sidebar button[aria-label="Show GraphiQL Explorer"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-explorer-root [data-field-name="users"]`)),
	)
	for _, c := range []struct{ click, query string }{
		{`.graphiql-explorer-root [data-field-name="users"]`, `{ users }`},
		{`.graphiql-explorer-users [data-arg-name="first"] > span`, `{ users(first: 10) }`},
		{`.graphiql-explorer-users [data-field-name="totalCount"]`, `{ users(first: 10) { totalCount } }`},
		{`.graphiql-explorer-users [data-field-name="nodes"]`, `{ users(first: 10) { totalCount nodes } }`},
		{`.graphiql-explorer-nodes [data-field-name="name"]`, `{ users(first: 10) { totalCount nodes { name } } }`},
		{`.graphiql-explorer-nodes [data-field-name="createdBy"]`, `{ users(first: 10) { totalCount nodes { name createdBy } } }`},
		{`.graphiql-explorer-createdBy [data-field-name="name"]`, `{ users(first: 10) { totalCount nodes { name createdBy { name } } } }`},
	} {
		step("explorer: click "+c.click, 10*time.Second,
			chromedp.Click(chromedp.CSS(c.click)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector('.graphiql-query-editor .view-lines')?.innerText || '').replace(/\s+/g, ' ').trim() === %q`, c.query),
				chromedp.WithPollingInterval(50*time.Millisecond)),
		)
	}
	step("run the explorer's query", 20*time.Second,
		chromedp.Click(chromedp.CSS(`button.graphiql-execute-button`)),
		chromedp.Poll[chromedp.Void](`(document.querySelector('.graphiql-response')?.innerText || '').replace(/\u00a0/g, ' ').includes('"createdBy"')`,
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	rctx, cancelRead = context.WithTimeout(browserCtx, 5*time.Second)
	response, err = chromedp.Run(rctx, chromedp.Evaluate[string](`document.querySelector('.graphiql-response').innerText.replace(/\u00a0/g, ' ')`))
	cancelRead()
	if err != nil {
		t.Fatalf("read the explorer query's response: %v", err)
	}
	for _, want := range []string{`"totalCount": 300`, `"name": "` + firstDemoUser + `"`, `"createdBy": {`} {
		if !strings.Contains(response, want) {
			t.Errorf("the explorer query's response lacks %s:\n%s", want, response)
		}
	}
	if strings.Contains(response, `"errors"`) {
		t.Errorf("the explorer query's response has errors:\n%s", response)
	}
	saveScreenshot(t, browserCtx, shot)

	// What the browser did: every request went to the server (data: URLs
	// aside), the query carried the pre-filled key, and nothing was blocked
	// or thrown.
	requests, problems := ev.snapshot()
	origin := base
	var sawQuery bool
	for _, r := range requests {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Errorf("unparsable request URL %q", r.url)
			continue
		}
		switch {
		case u.Scheme == "data" || u.Scheme == "blob" || r.url == "about:blank":
		case u.Scheme+"://"+u.Host != origin:
			t.Errorf("the page loaded %s from another host", r.url)
		case u.Path == "/graphql" && r.method == http.MethodPost:
			if r.apiKey != "demo-key" {
				t.Errorf("a GraphQL request carried X-API-Key %q, want the pre-filled demo-key", r.apiKey)
			}
			sawQuery = true
		}
	}
	if !sawQuery {
		t.Errorf("no GraphQL POST was seen; requests: %v", requests)
	}
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	t.Logf("%d requests to %s checked; screenshot: %s", len(requests), origin, shot)
}

// pageText is the start of what the page shows, for a failure's message.
func pageText(browserCtx context.Context) string {
	ctx, cancel := context.WithTimeout(browserCtx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

// insertText types text as one input, as an IME or a paste does.
func insertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// startDemoServer builds ./cmd/usersgraph, starts it in demo mode on a free
// loopback port and returns its base URL once /healthz answers. The server
// is stopped when the test ends.
func startDemoServer(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not %s: %v", root, err)
	}
	bin := filepath.Join(t.TempDir(), "usersgraph")
	bctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(bctx, "go", "build", "-o", bin, "./cmd/usersgraph")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/usersgraph: %v\n%s", err, out)
	}

	// The port may be taken between choosing and listening: then the
	// server exits at once and another port is tried.
	for attempt := 1; attempt <= 3; attempt++ {
		port := freePort(t)
		base := "http://127.0.0.1:" + port
		logs := &syncBuffer{}
		cmd := exec.Command(bin)
		// Demo mode: no upstream URL, key, Redis or tracing from the
		// caller's environment.
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + os.Getenv("HOME"),
			"TMPDIR=" + os.TempDir(),
			"LISTEN_ADDR=127.0.0.1:" + port,
			"LOG_FORMAT=json",
		}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			select {
			case <-exited:
				return
			default:
			}
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		err := waitHealthy(t.Context(), base, exited, 30*time.Second)
		if err == nil {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("server log:\n%s", logs)
				}
			})
			return base
		}
		stop()
		if !errors.Is(err, errExited) {
			t.Fatalf("the server at %s: %v\n%s", base, err, logs)
		}
		t.Logf("attempt %d: the server on port %s exited at once:\n%s", attempt, port, logs)
	}
	t.Fatal("the server could not start in 3 attempts")
	return ""
}

var errExited = errors.New("the server exited")

// waitHealthy polls base/healthz until it answers 200, the process exits or
// the time is up.
func waitHealthy(ctx context.Context, base string, exited <-chan error, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%w: %v", errExited, err)
		case <-ctx.Done():
			return fmt.Errorf("no 200 from %s/healthz within %s", base, within)
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// screenshotPath is where the screenshot goes: PLAYGROUND_SCREENSHOT, or
// testdata/artifacts/playground.png in this package (ignored by git).
func screenshotPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PLAYGROUND_SCREENSHOT")
	if p == "" {
		p = filepath.Join("testdata", "artifacts", "playground.png")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// saveScreenshot writes what the page shows as a PNG, within 10 s.
func saveScreenshot(t *testing.T, browserCtx context.Context, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved: %s", path)
}

type request struct {
	method, url, apiKey string
}

func (r request) String() string {
	u := r.url
	if len(u) > 100 {
		u = u[:100] + "…"
	}
	return r.method + " " + u
}

// browserEvents collects what the page requested and what went wrong in it.
type browserEvents struct {
	mu       sync.Mutex
	requests []request
	problems []string
}

// record runs in the tab's message loop: it only appends.
func (b *browserEvents) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		r := request{method: e.Request.Method, url: e.Request.URL}
		for k, v := range e.Request.Headers {
			if strings.EqualFold(k, "X-API-Key") {
				r.apiKey = fmt.Sprint(v)
			}
		}
		b.requests = append(b.requests, r)
	case *network.EventLoadingFailed:
		if e.BlockedReason != "" {
			b.problems = append(b.problems, fmt.Sprintf("a request was blocked (%s)", e.BlockedReason))
		}
	}
}

// collectConsole keeps the errors and exceptions of the page until the
// browser's context ends.
func (b *browserEvents) collectConsole(msgs iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range msgs {
		if err != nil {
			return
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s (%s %s)", m, m.Source, m.URL))
			b.mu.Unlock()
		}
	}
}

func (b *browserEvents) snapshot() ([]request, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.requests...), append([]string(nil), b.problems...)
}

func (b *browserEvents) String() string {
	reqs, probs := b.snapshot()
	var s strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&s, "  request: %s\n", r)
	}
	for _, p := range probs {
		fmt.Fprintf(&s, "  problem: %s\n", p)
	}
	return s.String()
}

// syncBuffer collects the server's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
