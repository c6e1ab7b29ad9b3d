package restclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// CredentialKind says how Cognigy expects a credential to be presented.
type CredentialKind int

// The credential kinds Cognigy accepts. A credential is always forwarded as
// the same kind it arrived as.
const (
	// APIKey is sent as the X-API-Key header.
	APIKey CredentialKind = iota + 1
	// Bearer is an OAuth2 access token sent as "Authorization: Bearer <token>".
	Bearer
	// CXone is a CXone token sent as "x-cxone-authorization: Bearer <token>".
	CXone
)

// Header names used for credentials.
const (
	HeaderAPIKey        = "X-API-Key"
	HeaderAuthorization = "Authorization"
	HeaderCXone         = "X-Cxone-Authorization"
)

// Credential is one caller's secret and how to present it. The secret sits
// behind a pointer in an unexported field and every printing path (fmt's
// verbs, slog, encoding/json) shows only its kind, so a Credential that ends
// up in a log line or an error message leaks nothing.
type Credential struct {
	Kind   CredentialKind
	secret *string
}

// NewCredential returns a credential of kind holding secret.
func NewCredential(kind CredentialKind, secret string) Credential {
	if secret == "" {
		return Credential{Kind: kind}
	}
	return Credential{Kind: kind, secret: &secret}
}

// Secret returns the secret itself, for the one place that must send it.
func (c Credential) Secret() string {
	if c.secret == nil {
		return ""
	}
	return *c.secret
}

// IsZero reports whether c holds no secret.
func (c Credential) IsZero() bool { return c.secret == nil || *c.secret == "" }

// String describes the credential without its secret.
func (c Credential) String() string {
	switch c.Kind {
	case APIKey:
		return "api-key(redacted)"
	case Bearer:
		return "bearer(redacted)"
	case CXone:
		return "cxone(redacted)"
	default:
		return "none"
	}
}

// GoString keeps %#v from printing the secret.
func (c Credential) GoString() string { return c.String() }

// Format keeps every fmt verb (%d and %x included, which bypass String)
// from printing the secret.
func (c Credential) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON keeps encoding/json, and slog's JSON handler, from printing
// the secret.
func (c Credential) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// LogValue keeps slog from printing the secret.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// apply sets the credential's header on h.
func (c Credential) apply(h http.Header) {
	switch c.Kind {
	case APIKey:
		h.Set(HeaderAPIKey, c.Secret())
	case Bearer:
		h.Set(HeaderAuthorization, "Bearer "+c.Secret())
	case CXone:
		h.Set(HeaderCXone, "Bearer "+c.Secret())
	}
}

// CredentialFromHeader returns the credential a caller sent in h, if any, in
// order of precedence: X-API-Key, Authorization: Bearer, x-cxone-authorization.
// An Authorization header of another scheme is not a Cognigy credential and is
// ignored.
func CredentialFromHeader(h http.Header) (Credential, bool) {
	if v := h.Get(canonicalAPIKey); v != "" {
		return NewCredential(APIKey, v), true
	}
	if tok, ok := bearerToken(h.Get(HeaderAuthorization)); ok {
		return NewCredential(Bearer, tok), true
	}
	if tok, ok := bearerToken(h.Get(HeaderCXone)); ok {
		return NewCredential(CXone, tok), true
	}
	return Credential{}, false
}

// canonicalAPIKey is HeaderAPIKey as http.Header keeps it ("X-Api-Key"):
// Get with another spelling makes the canonical one anew, an allocation on
// every request. (The other two names are canonical already.)
var canonicalAPIKey = http.CanonicalHeaderKey(HeaderAPIKey)

func bearerToken(v string) (string, bool) {
	const prefix = "bearer "
	if len(v) <= len(prefix) || !equalFoldASCII(v[:len(prefix)], prefix) {
		return "", false
	}
	tok := v[len(prefix):]
	for len(tok) > 0 && tok[0] == ' ' {
		tok = tok[1:]
	}
	return tok, tok != ""
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

type credentialKey struct{}

// WithCredential returns a context whose requests are made with c.
func WithCredential(ctx context.Context, c Credential) context.Context {
	return context.WithValue(ctx, credentialKey{}, c)
}

// CredentialFrom returns the credential stored in ctx by WithCredential.
func CredentialFrom(ctx context.Context) (Credential, bool) {
	c, ok := ctx.Value(credentialKey{}).(Credential)
	return c, ok && !c.IsZero()
}
