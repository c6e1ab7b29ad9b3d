package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// TestKeyerSeparatesFields: the response cache's key of a request depends
// on every field and on where one field ends and the next begins, and a
// reused keyer (its buffer holding a longer earlier request) gives the
// same key as a new one.
func TestKeyerSeparatesFields(t *testing.T) {
	newKeyer := func() *keyer { return &keyer{mac: hmac.New(sha256.New, []byte("secret"))} }
	reused := newKeyer()
	reused.key([]byte(`{"query":"{ a much longer earlier request }"}`), "1", "a-longer-secret", "POST", "application/graphql-response+json", "application/json", "x=1&y=2")

	body := []byte(`{"query":"{ users { totalCount } }"}`)
	base := newKeyer().key(body, "1", "key", "POST", "", "application/json", "")
	if got := reused.key(body, "1", "key", "POST", "", "application/json", ""); got != base {
		t.Errorf("a reused keyer gives another key")
	}
	for name, k := range map[string][32]byte{
		"another credential":                newKeyer().key(body, "1", "kex", "POST", "", "application/json", ""),
		"another kind of credential":        newKeyer().key(body, "2", "key", "POST", "", "application/json", ""),
		"a field's end moved":               newKeyer().key(body, "1", "keyP", "OST", "", "application/json", ""),
		"another Accept":                    newKeyer().key(body, "1", "key", "POST", "application/json", "application/json", ""),
		"another query string":              newKeyer().key(body, "1", "key", "POST", "", "application/json", "a=1"),
		"the query string as body":          newKeyer().key(nil, "1", "key", "POST", "", "application/json", string(body)),
		"another body":                      newKeyer().key([]byte(`{"query":"{ users { edges { cursor } } }"}`), "1", "key", "POST", "", "application/json", ""),
		"another HMAC secret, same request": (&keyer{mac: hmac.New(sha256.New, []byte("other"))}).key(body, "1", "key", "POST", "", "application/json", ""),
	} {
		if k == base {
			t.Errorf("%s: the same key", name)
		}
	}
}
