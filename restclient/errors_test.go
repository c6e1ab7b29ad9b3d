package restclient

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const traceID = "api--f84324f4-98eb-4f02-abdd-375a2e6c3c1f"

func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      ErrorResponse
		wantError string
	}{
		{
			name:   "a 400 problem with a numeric code is decoded",
			status: http.StatusBadRequest,
			body: `{"type":"Bad Request","title":"Bad Request Error","status":400,"detail":"Validation failed.",` +
				`"instance":"/new/v2.0/users","code":1000,"traceId":"` + traceID + `","details":{}}`,
			want: ErrorResponse{StatusCode: 400, Type: "Bad Request", Title: "Bad Request Error", Detail: "Validation failed.",
				Instance: "/new/v2.0/users", Code: "1000", TraceID: traceID},
			wantError: "cognigy: 400 Bad Request (code 1000): Validation failed.",
		},
		{
			name:   "a code sent as a string is kept",
			status: http.StatusBadRequest,
			body:   `{"title":"Bad Request Error","detail":"limit must be <= 100","code":"1005","traceId":"` + traceID + `"}`,
			want: ErrorResponse{StatusCode: 400, Title: "Bad Request Error", Detail: "limit must be <= 100",
				Code: "1005", TraceID: traceID},
			wantError: "cognigy: 400 Bad Request (code 1005): limit must be <= 100",
		},
		{
			name:      "a 404 with code 1002 as a number is decoded",
			status:    http.StatusNotFound,
			body:      `{"title":"Not Found Error","code":1002}`,
			want:      ErrorResponse{StatusCode: 404, Title: "Not Found Error", Code: "1002"},
			wantError: "cognigy: 404 Not Found (code 1002): Not Found Error",
		},
		{
			name:      "a null code is empty",
			status:    http.StatusConflict,
			body:      `{"detail":"exists","code":null}`,
			want:      ErrorResponse{StatusCode: 409, Detail: "exists"},
			wantError: "cognigy: 409 Conflict: exists",
		},
		{
			name:      "a code of another JSON type is empty and the rest is kept",
			status:    http.StatusConflict,
			body:      `{"detail":"exists","code":{"n":1004}}`,
			want:      ErrorResponse{StatusCode: 409, Detail: "exists"},
			wantError: "cognigy: 409 Conflict: exists",
		},
		{
			name:      "a 401 with an empty body is the status alone",
			status:    http.StatusUnauthorized,
			want:      ErrorResponse{StatusCode: 401},
			wantError: "cognigy: 401 Unauthorized",
		},
		{
			name:      "a 403 with an empty body is the status alone",
			status:    http.StatusForbidden,
			want:      ErrorResponse{StatusCode: 403},
			wantError: "cognigy: 403 Forbidden",
		},
		{
			name:      "a non-JSON error body is ignored",
			status:    http.StatusBadGateway,
			header:    map[string]string{"Content-Type": "text/html"},
			body:      "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
			want:      ErrorResponse{StatusCode: 502},
			wantError: "cognigy: 502 Bad Gateway",
		},
		{
			name:      "a JSON error body that is not an object is ignored",
			status:    http.StatusInternalServerError,
			body:      `["boom"]`,
			want:      ErrorResponse{StatusCode: 500},
			wantError: "cognigy: 500 Internal Server Error",
		},
		{
			name:      "a 504 timeout problem keeps code 8001",
			status:    http.StatusGatewayTimeout,
			body:      `{"title":"Gateway Timeout Error","code":8001,"traceId":"` + traceID + `"}`,
			want:      ErrorResponse{StatusCode: 504, Title: "Gateway Timeout Error", Code: "8001", TraceID: traceID},
			wantError: "cognigy: 504 Gateway Timeout (code 8001): Gateway Timeout Error",
		},
		{
			name:      "a 429 with Retry-After in seconds sets RetryAfter",
			status:    http.StatusTooManyRequests,
			header:    map[string]string{"Retry-After": "120"},
			body:      `{"title":"Too Many Requests","code":429}`,
			want:      ErrorResponse{StatusCode: 429, Title: "Too Many Requests", Code: "429", RetryAfter: 120 * time.Second},
			wantError: "cognigy: 429 Too Many Requests (code 429): Too Many Requests",
		},
		{
			name:      "a 503 with Retry-After of zero is no wait",
			status:    http.StatusServiceUnavailable,
			header:    map[string]string{"Retry-After": "0"},
			want:      ErrorResponse{StatusCode: 503},
			wantError: "cognigy: 503 Service Unavailable",
		},
		{
			name:      "a 3xx is an error, not a success",
			status:    http.StatusNotModified,
			want:      ErrorResponse{StatusCode: 304},
			wantError: "cognigy: 304 Not Modified",
		},
	}
	for _, tt := range tests {
		for _, call := range []string{"ListUsers", "GetUser"} {
			t.Run(call+"/"+tt.name, func(t *testing.T) {
				client, mux, serverURL := setup(t)
				handler := func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				}
				mux.HandleFunc("GET /v2.0/users", handler)
				mux.HandleFunc("GET /v2.0/users/{id}", handler)

				ctx := WithCredential(t.Context(), NewCredential(APIKey, "k3y-secret"))
				var (
					resp *Response
					err  error
				)
				if call == "ListUsers" {
					var page *UserPage
					page, resp, err = client.ListUsers(ctx, ListUsersOptions{Filter: "needle"})
					if page != nil {
						t.Errorf("page = %+v, want nil", page)
					}
				} else {
					var u *User
					u, resp, err = client.GetUser(ctx, "65f0c0ffee0123456789abcd")
					if u != nil {
						t.Errorf("user = %+v, want nil", u)
					}
				}
				var er *ErrorResponse
				if !errors.As(err, &er) {
					t.Fatalf("err = %v (%T), want *ErrorResponse", err, err)
				}
				if *er != tt.want {
					t.Errorf("ErrorResponse = %+v\nwant %+v", *er, tt.want)
				}
				if got := err.Error(); got != tt.wantError {
					t.Errorf("err.Error() = %q, want %q", got, tt.wantError)
				}
				if resp == nil || resp.StatusCode != tt.status {
					t.Errorf("resp = %+v, want status %d", resp, tt.status)
				}
				var de *DecodeError
				var te *TransportError
				if errors.As(err, &de) || errors.As(err, &te) {
					t.Errorf("err = %v is also a DecodeError or TransportError", err)
				}
				assertNoLeak(t, err, serverURL, "/v2.0/users", "/new/", "65f0c0ffee0123456789abcd", "needle", "k3y-secret")
			})
		}
	}

	t.Run("an oversized problem body is ignored, not an error of its own", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":1005,"detail":"`+strings.Repeat("x", maxProblemBytes)+`"}`)
		})
		_, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		var er *ErrorResponse
		if !errors.As(err, &er) {
			t.Fatalf("err = %v (%T), want *ErrorResponse", err, err)
		}
		if er.StatusCode != 400 || er.Code != "" || er.Detail != "" {
			t.Errorf("ErrorResponse = %+v, want only the status of a truncated problem", er)
		}
	})

	t.Run("a problem body larger than a small cap is still read", func(t *testing.T) {
		client, mux, _ := setup(t, WithMaxResponseBytes(8))
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusForbidden, `{"code":"1000","title":"Forbidden Error"}`)
		})
		_, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		var er *ErrorResponse
		if !errors.As(err, &er) || er.Code != "1000" || er.Title != "Forbidden Error" {
			t.Errorf("err = %v, want the decoded 403 problem", err)
		}
	})
}

func TestProblemCode(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`1002`, "1002"},
		{`"1005"`, "1005"},
		{`""`, ""},
		{`"E_AUTH"`, "E_AUTH"},
		{`null`, ""},
		{``, ""},
		{`1.5e3`, "1.5e3"},
		{`-1`, "-1"},
		{`true`, ""},
		{`[1002]`, ""},
		{`{"code":1002}`, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("code %s is %q", tt.raw, tt.want), func(t *testing.T) {
			if got := problemCode([]byte(tt.raw)); got != tt.want {
				t.Errorf("problemCode(%s) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"delta-seconds are seconds", "120", 120 * time.Second},
		{"one second is one second", "1", time.Second},
		{"zero is no wait", "0", 0},
		{"surrounding spaces are allowed", " 30 ", 30 * time.Second},
		{"an HTTP date in the future is the wait until then", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"an RFC 850 date is read", now.Add(time.Hour).Format(time.RFC850), time.Hour},
		{"an ANSI C date is read", now.Add(5 * time.Minute).Format(time.ANSIC), 5 * time.Minute},
		{"an HTTP date now is no wait", now.Format(http.TimeFormat), 0},
		{"an HTTP date in the past is no wait", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"absent is no wait", "", 0},
		{"a negative number is no wait", "-5", 0},
		{"a fraction is not a delay", "1.5", 0},
		{"words are not a delay", "soon", 0},
		{"a number with a unit is not a delay", "10s", 0},
		{"a number too large for an int is not a delay", "99999999999999999999999", 0},
		{"an ISO date is not an HTTP date", now.Add(time.Hour).Format(time.RFC3339), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.value, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}

	t.Run("a delay too long for a Duration is never negative", func(t *testing.T) {
		for _, v := range []string{"9223372037", "18446744073", "9223372036854775807"} {
			if got := parseRetryAfter(v, now); got < 0 {
				t.Errorf("parseRetryAfter(%q) = %v, want a non-negative wait", v, got)
			}
		}
	})

	for _, tc := range []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"the client's clock turns an HTTP date into a wait", now.Add(42 * time.Second).Format(http.TimeFormat), 42 * time.Second},
		{"a seconds value needs no clock", "7", 7 * time.Second},
		{"an invalid value is zero", "later please", 0},
	} {
		t.Run("through the client: "+tc.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			client.now = func() time.Time { return now }
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.header)
				writeJSON(w, http.StatusTooManyRequests, `{"title":"Too Many Requests","code":429}`)
			})
			_, resp, err := client.ListUsers(t.Context(), ListUsersOptions{})
			var er *ErrorResponse
			if !errors.As(err, &er) {
				t.Fatalf("err = %v (%T), want *ErrorResponse", err, err)
			}
			if er.StatusCode != 429 || er.RetryAfter != tc.want {
				t.Errorf("StatusCode, RetryAfter = %d, %v; want 429, %v", er.StatusCode, er.RetryAfter, tc.want)
			}
			if resp.Header.Get("Retry-After") != tc.header {
				t.Errorf("resp Retry-After = %q, want %q", resp.Header.Get("Retry-After"), tc.header)
			}
		})
	}
}

func TestErrorTypes(t *testing.T) {
	t.Run("DecodeError says the status and unwraps to its cause", func(t *testing.T) {
		cause := errors.New("bad shape")
		err := error(&DecodeError{StatusCode: 200, Err: cause})
		if err.Error() != "cognigy: unusable 200 response: bad shape" || !errors.Is(err, cause) {
			t.Errorf("err = %q, Is(cause) = %v", err, errors.Is(err, cause))
		}
	})
	t.Run("TransportError unwraps and reports timeouts of its cause", func(t *testing.T) {
		cause := timeoutErr{}
		err := &TransportError{Err: fmt.Errorf("read: %w", cause)}
		if !err.Timeout() || !errors.Is(err, cause) || err.Error() != "cognigy: request failed: read: i/o timeout" {
			t.Errorf("err = %q, Timeout() = %v", err, err.Timeout())
		}
		if (&TransportError{Err: errors.New("reset")}).Timeout() {
			t.Error("Timeout() = true for an error that is no timeout")
		}
	})
	t.Run("an ErrorResponse of an unknown status prints its number", func(t *testing.T) {
		if got := (&ErrorResponse{StatusCode: 599, Detail: "odd"}).Error(); !strings.HasPrefix(got, "cognigy: 599") || !strings.HasSuffix(got, ": odd") {
			t.Errorf("Error() = %q", got)
		}
	})
	t.Run("an ErrorResponse prefers the detail to the title", func(t *testing.T) {
		got := (&ErrorResponse{StatusCode: 400, Title: "Bad Request Error", Detail: "Missing payload.", Instance: "/secret/path", TraceID: traceID}).Error()
		if got != "cognigy: 400 Bad Request: Missing payload." {
			t.Errorf("Error() = %q", got)
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// pageOfSize returns a valid page body of exactly n bytes (n >= 40), padded
// with spaces inside the JSON.
func pageOfSize(n int) string {
	const head, tail = `{"items":[],"total":0`, `}`
	return head + strings.Repeat(" ", n-len(head)-len(tail)) + tail
}

func TestResponseSizeCap(t *testing.T) {
	const limit = 256
	tests := []struct {
		name    string
		size    int
		chunked bool
		wantErr bool
	}{
		{"a body at the cap with Content-Length is read", limit, false, false},
		{"a body at the cap without Content-Length is read", limit, true, false},
		{"a body one byte over the cap with Content-Length is refused", limit + 1, false, true},
		{"a body one byte over the cap without Content-Length is refused", limit + 1, true, true},
		{"a much bigger body with Content-Length is refused", 64 << 10, false, true},
		{"a much bigger chunked body is refused", 64 << 10, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sawLength atomic.Int64
			var sawChunked atomic.Bool
			_, mux, serverURL := setup(t)
			// Wrap the default client to see how the body was framed.
			inner := NewHTTPClient()
			d := doerFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := inner.Do(r)
				if err == nil {
					sawLength.Store(resp.ContentLength)
					sawChunked.Store(len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked")
				}
				return resp, err
			})
			client, err := New(serverURL+basePath, WithMaxResponseBytes(limit), WithDoer(d))
			if err != nil {
				t.Fatal(err)
			}
			body := pageOfSize(tt.size)
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.chunked {
					// Flushing before the end makes the server chunk the body.
					io.WriteString(w, body[:10])
					w.(http.Flusher).Flush()
					io.WriteString(w, body[10:])
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				io.WriteString(w, body)
			})

			page, resp, err := client.ListUsers(t.Context(), ListUsersOptions{})
			if tt.chunked != sawChunked.Load() || (!tt.chunked && sawLength.Load() != int64(tt.size)) {
				t.Errorf("framing: chunked = %v, Content-Length = %d; want chunked = %v", sawChunked.Load(), sawLength.Load(), tt.chunked)
			}
			if !tt.wantErr {
				if err != nil || page == nil {
					t.Fatalf("ListUsers = %v, %v; want a page", page, err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *DecodeError", err, err)
			}
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Errorf("err = %v, want it to wrap ErrResponseTooLarge", err)
			}
			if de.StatusCode != http.StatusOK || resp == nil || resp.StatusCode != http.StatusOK {
				t.Errorf("DecodeError.StatusCode = %d, resp = %+v; want 200", de.StatusCode, resp)
			}
			if page != nil {
				t.Errorf("page = %+v, want nil", page)
			}
		})
	}

	t.Run("a body announced as too large is refused before any of it is read", func(t *testing.T) {
		// The server announces more than the cap, then sends nothing until
		// the client goes away: only a client that trusts Content-Length
		// returns a DecodeError; one that reads would end in a timeout.
		client, mux, _ := setup(t, WithMaxResponseBytes(limit), WithTimeout(30*time.Second))
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(limit+1))
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		_, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("err = %v (%T), want a *DecodeError wrapping ErrResponseTooLarge", err, err)
		}
	})

	t.Run("GetUser obeys the cap too", func(t *testing.T) {
		client, mux, _ := setup(t, WithMaxResponseBytes(16))
		mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"_id":"65f0c0ffee0123456789abcd"}`)
		})
		_, _, err := client.GetUser(t.Context(), "65f0c0ffee0123456789abcd")
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("err = %v, want ErrResponseTooLarge", err)
		}
	})

	t.Run("the largest cap means no practical limit", func(t *testing.T) {
		client, mux, _ := setup(t, WithMaxResponseBytes(math.MaxInt64))
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, emptyPage)
		})
		if _, _, err := client.ListUsers(t.Context(), ListUsersOptions{}); err != nil {
			t.Errorf("ListUsers = %v, want a page", err)
		}
	})
}

// streamBody writes total bytes of a syntactically plausible page to w in
// small chunks, generated as it goes, and returns how many bytes were
// written before the client went away.
func streamBody(w http.ResponseWriter, total int64) int64 {
	chunk := []byte(strings.Repeat(`{"_id":"65f0c0ffee0123456789abcd","name":"padding"},`, 64))
	var written int64
	n, err := io.WriteString(w, `{"total":1,"items":[`)
	written += int64(n)
	for err == nil && written < total {
		n, err = w.Write(chunk[:min(int64(len(chunk)), total-written)])
		written += int64(n)
	}
	return written
}

func TestResponseSizeCap_defaultRefusesHugeBodies(t *testing.T) {
	const huge = 50 << 20
	tests := []struct {
		name          string
		contentLength bool
	}{
		{"a 50 MB streamed body is refused without reading it all", false},
		{"a 50 MB body announced by Content-Length is refused without reading it", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			written := make(chan int64, 1)
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(huge))
				}
				written <- streamBody(w, huge)
			})

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			page, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
			runtime.ReadMemStats(&after)

			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("err = %v (%T), want a *DecodeError wrapping ErrResponseTooLarge", err, err)
			}
			if page != nil {
				t.Errorf("page = %+v, want nil", page)
			}
			// The client closes the connection on the unread rest, so
			// the server's writes fail well before 50 MB.
			if n := <-written; n >= huge {
				t.Errorf("server wrote all %d bytes: the client read the whole body", n)
			}
			// Loosely: growing a buffer up to the 8 MiB cap allocates a
			// few times the cap in all, never the 50 MB body.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= huge {
				t.Errorf("the call allocated %d bytes, want well under %d", alloc, huge)
			}
		})
	}
}
