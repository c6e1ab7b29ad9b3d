package restclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestCredentialFromHeader(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   Credential
		wantOK bool
	}{
		{
			name:   "an X-API-Key header is an API key",
			header: http.Header{"X-Api-Key": {"k3y"}},
			want:   NewCredential(APIKey, "k3y"),
			wantOK: true,
		},
		{
			name:   "an Authorization bearer token is a bearer credential",
			header: http.Header{"Authorization": {"Bearer t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "a lower-case bearer scheme is accepted",
			header: http.Header{"Authorization": {"bearer t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "an upper-case bearer scheme is accepted",
			header: http.Header{"Authorization": {"BEARER t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "a mixed-case bearer scheme is accepted",
			header: http.Header{"Authorization": {"bEaReR t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "extra spaces after the scheme are skipped",
			header: http.Header{"Authorization": {"Bearer    t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "a CXone header is a CXone credential",
			header: http.Header{"X-Cxone-Authorization": {"Bearer cx"}},
			want:   NewCredential(CXone, "cx"),
			wantOK: true,
		},
		{
			name:   "a CXone header's scheme is case-insensitive too",
			header: http.Header{"X-Cxone-Authorization": {"bearer cx"}},
			want:   NewCredential(CXone, "cx"),
			wantOK: true,
		},
		{
			name: "X-API-Key wins over Authorization and CXone",
			header: http.Header{
				"X-Api-Key":             {"k3y"},
				"Authorization":         {"Bearer t0k"},
				"X-Cxone-Authorization": {"Bearer cx"},
			},
			want:   NewCredential(APIKey, "k3y"),
			wantOK: true,
		},
		{
			name: "Authorization wins over CXone",
			header: http.Header{
				"Authorization":         {"Bearer t0k"},
				"X-Cxone-Authorization": {"Bearer cx"},
			},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name: "a Basic Authorization is ignored and CXone is used",
			header: http.Header{
				"Authorization":         {"Basic YWRtaW46cGFzcw=="},
				"X-Cxone-Authorization": {"Bearer cx"},
			},
			want:   NewCredential(CXone, "cx"),
			wantOK: true,
		},
		{
			name:   "a Basic Authorization alone is no credential",
			header: http.Header{"Authorization": {"Basic YWRtaW46cGFzcw=="}},
		},
		{
			name:   "an empty X-API-Key falls through to Authorization",
			header: http.Header{"X-Api-Key": {""}, "Authorization": {"Bearer t0k"}},
			want:   NewCredential(Bearer, "t0k"),
			wantOK: true,
		},
		{
			name:   "an empty X-API-Key alone is no credential",
			header: http.Header{"X-Api-Key": {""}},
		},
		{
			name:   "a bare bearer scheme is no credential",
			header: http.Header{"Authorization": {"Bearer"}},
		},
		{
			name:   "a bearer scheme with only a space is no credential",
			header: http.Header{"Authorization": {"Bearer "}},
		},
		{
			name:   "a bearer scheme with only spaces is no credential",
			header: http.Header{"Authorization": {"Bearer     "}},
		},
		{
			name:   "a scheme that merely starts with bearer is no credential",
			header: http.Header{"Authorization": {"Bearerx t0k"}},
		},
		{
			name:   "a token without a scheme is no credential",
			header: http.Header{"Authorization": {"t0k"}},
		},
		{
			name:   "a CXone header without the bearer scheme is no credential",
			header: http.Header{"X-Cxone-Authorization": {"cx"}},
		},
		{
			name:   "an empty CXone header is no credential",
			header: http.Header{"X-Cxone-Authorization": {""}},
		},
		{
			name:   "no headers is no credential",
			header: http.Header{},
		},
		{
			name:   "a nil header is no credential",
			header: nil,
		},
		{
			name:   "an api_key-like header of another name is no credential",
			header: http.Header{"Api-Key": {"k3y"}, "Api_key": {"k3y"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CredentialFromHeader(tt.header)
			if ok != tt.wantOK || !same(got, tt.want) {
				t.Errorf("CredentialFromHeader(%v) = {%d %q}, %v; want {%d %q}, %v",
					tt.header, got.Kind, got.Secret(), ok, tt.want.Kind, tt.want.Secret(), tt.wantOK)
			}
		})
	}

	t.Run("headers set through Header.Set in any case are found", func(t *testing.T) {
		h := http.Header{}
		h.Set("x-api-key", "k3y")
		if got, ok := CredentialFromHeader(h); !ok || !same(got, NewCredential(APIKey, "k3y")) {
			t.Errorf("got {%d %q}, %v", got.Kind, got.Secret(), ok)
		}
		h = http.Header{}
		h.Set("x-cxone-authorization", "Bearer cx")
		if got, ok := CredentialFromHeader(h); !ok || !same(got, NewCredential(CXone, "cx")) {
			t.Errorf("got {%d %q}, %v", got.Kind, got.Secret(), ok)
		}
	})

	t.Run("a credential read from a header is forwarded as the same kind", func(t *testing.T) {
		for _, in := range []http.Header{
			{"X-Api-Key": {"k3y"}},
			{"Authorization": {"bearer t0k"}},
			{"X-Cxone-Authorization": {"BEARER cx"}},
		} {
			cred, ok := CredentialFromHeader(in)
			if !ok {
				t.Fatalf("no credential in %v", in)
			}
			out := http.Header{}
			cred.apply(out)
			back, ok := CredentialFromHeader(out)
			if !ok || !same(back, cred) {
				t.Errorf("%v -> %v -> {%d %q}, want {%d %q}", in, out, back.Kind, back.Secret(), cred.Kind, cred.Secret())
			}
		}
	})
}

func TestCredentialFrom(t *testing.T) {
	t.Run("a stored credential is returned", func(t *testing.T) {
		want := NewCredential(CXone, "cx")
		got, ok := CredentialFrom(WithCredential(t.Context(), want))
		if !ok || !same(got, want) {
			t.Errorf("CredentialFrom = {%d %q}, %v", got.Kind, got.Secret(), ok)
		}
	})
	t.Run("a context without one has none", func(t *testing.T) {
		if got, ok := CredentialFrom(context.Background()); ok || !got.IsZero() {
			t.Errorf("CredentialFrom = {%d %q}, %v; want none", got.Kind, got.Secret(), ok)
		}
	})
	t.Run("a stored zero credential counts as none", func(t *testing.T) {
		if _, ok := CredentialFrom(WithCredential(t.Context(), Credential{Kind: Bearer})); ok {
			t.Error("CredentialFrom = ok for a credential without a secret")
		}
	})
	t.Run("another package's value under a look-alike key is not a credential", func(t *testing.T) {
		type credentialKey struct{} // a different type with the same name
		ctx := context.WithValue(t.Context(), credentialKey{}, NewCredential(APIKey, "k3y"))
		if _, ok := CredentialFrom(ctx); ok {
			t.Error("CredentialFrom found a credential stored under a foreign key")
		}
	})
	t.Run("IsZero reports a missing secret", func(t *testing.T) {
		if !(Credential{Kind: APIKey}).IsZero() || (NewCredential(APIKey, "k")).IsZero() {
			t.Error("IsZero is wrong")
		}
	})
}

func TestCredential_neverRevealsItsSecret(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	creds := []struct {
		cred Credential
		want string // what String must say
	}{
		{NewCredential(APIKey, secret), "api-key(redacted)"},
		{NewCredential(Bearer, secret), "bearer(redacted)"},
		{NewCredential(CXone, secret), "cxone(redacted)"},
		{NewCredential(0, secret), "none"},
		{NewCredential(99, secret), "none"},
	}
	for _, c := range creds {
		cred := c.cred
		t.Run(c.want+"/String names the kind only", func(t *testing.T) {
			if got := cred.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
			if got := cred.GoString(); got != c.want {
				t.Errorf("GoString() = %q, want %q", got, c.want)
			}
			if got := cred.LogValue(); got.Kind() != slog.KindString || got.String() != c.want {
				t.Errorf("LogValue() = %v, want the string %q", got, c.want)
			}
		})

		t.Run(c.want+"/fmt verbs print no secret", func(t *testing.T) {
			type wrapper struct {
				Name string
				Cred Credential
				Ptr  *Credential
			}
			w := wrapper{Name: "caller", Cred: cred, Ptr: &cred}
			for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10v", "%-20s"} {
				for _, arg := range []any{cred, &cred, w, &w, []Credential{cred}, map[string]Credential{"k": cred}} {
					out := fmt.Sprintf(format, arg)
					if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) ||
						strings.Contains(out, fmt.Sprintf("%X", secret)) {
						t.Errorf("Sprintf(%q, %T) = %q reveals the secret", format, arg, out)
					}
				}
			}
			if out := fmt.Sprintf("%v|%+v|%#v", cred, cred, cred); out != c.want+"|"+c.want+"|"+c.want {
				t.Errorf("Sprintf = %q, want the redacted form three times", out)
			}
			if out := fmt.Sprint(cred) + fmt.Sprintln(cred) + fmt.Sprintf("%+v", w); !strings.Contains(out, c.want) {
				t.Errorf("Sprint = %q, want it to contain %q", out, c.want)
			}
		})

		t.Run(c.want+"/slog prints no secret", func(t *testing.T) {
			var buf bytes.Buffer
			for _, h := range []slog.Handler{
				slog.NewJSONHandler(&buf, nil),
				slog.NewTextHandler(&buf, nil),
			} {
				logger := slog.New(h)
				logger.Info("call", "cred", cred, "ptr", &cred, slog.Group("caller", "cred", cred), slog.Any("any", cred))
				logger.With("cred", cred).Warn("with")
				logger.Info(fmt.Sprint("message ", cred))
			}
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Errorf("slog output reveals the secret:\n%s", out)
			}
			if n := strings.Count(out, c.want); n < 2*6 {
				t.Errorf("slog output names the credential %d times, want at least 12:\n%s", n, out)
			}
			// The JSON lines must be valid JSON carrying the redacted string.
			line, _, _ := strings.Cut(out, "\n")
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("first JSON line %q: %v", line, err)
			}
			if rec["cred"] != c.want {
				t.Errorf(`JSON "cred" = %v, want %q`, rec["cred"], c.want)
			}
		})
	}

	t.Run("verbs that bypass String print no secret either", func(t *testing.T) {
		cred := NewCredential(APIKey, secret)
		for _, format := range []string{"%d", "%t", "%e", "%o", "%b", "%c", "%U", "%T"} {
			for _, arg := range []any{cred, struct{ C Credential }{cred}, []Credential{cred}} {
				if out := fmt.Sprintf(format, arg); strings.Contains(out, secret) {
					t.Errorf("Sprintf(%q, %T) = %q reveals the secret", format, arg, out)
				}
			}
		}
	})

	t.Run("a misused pointer verb prints no secret", func(t *testing.T) {
		cred := NewCredential(APIKey, secret)
		for _, arg := range []any{cred, struct{ C Credential }{cred}} {
			if out := fmt.Sprintf("%p", arg); strings.Contains(out, secret) {
				t.Errorf("Sprintf(%%p, %T) = %q reveals the secret", arg, out)
			}
		}
	})

	t.Run("JSON encoding prints no secret", func(t *testing.T) {
		cred := NewCredential(APIKey, secret)
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("call", "req", struct{ Cred Credential }{cred})
		b, _ := json.Marshal(cred)
		if out := string(b) + buf.String(); strings.Contains(out, secret) {
			t.Errorf("JSON output reveals the secret: %s", out)
		}
	})

	t.Run("errors wrapping a credential print no secret", func(t *testing.T) {
		cred := NewCredential(Bearer, secret)
		err := fmt.Errorf("call as %v: %w", cred, errors.New("denied"))
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "bearer(redacted)") {
			t.Errorf("error = %q", err)
		}
	})
}

// same compares credentials by kind and secret (the secret is held by
// pointer, so == compares identity).
func same(a, b Credential) bool { return a.Kind == b.Kind && a.Secret() == b.Secret() }

// Every request's credential is read from its header: that costs the
// secret's one allocation, and nothing for the header names.
func TestCredentialFromHeaderAllocatesOnlyTheSecret(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
	}{
		{"an API key", http.Header{"X-Api-Key": {"k3y"}}},
		{"a CXone token", http.Header{"X-Cxone-Authorization": {"Bearer cx"}}},
		{"no credential", http.Header{"Accept": {"application/json"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ok := CredentialFromHeader(c.header)
			want := 0.0
			if ok {
				want = 1
			}
			if got := testing.AllocsPerRun(100, func() { CredentialFromHeader(c.header) }); got != want {
				t.Fatalf("%v allocations, want %v", got, want)
			}
		})
	}
}
