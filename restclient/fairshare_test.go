package restclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

// Each credential spends its own share: once its bucket is empty its calls
// fail at once with a *LimitError saying when to retry, while another
// credential's calls still go through; an answer the cache gives costs no
// token, so a caller repeating itself is never held back by its share.
func TestACallerSpendsOnlyItsShare(t *testing.T) {
	fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithTenant("other-key", nil)},
		restclient.WithCallerShare(0.001, 2), restclient.WithCache(time.Minute, 100))
	flooder, other := withKey(t.Context(), key), withKey(t.Context(), "other-key")
	for i, filter := range []string{"a", "b"} {
		if _, _, err := c.ListUsers(flooder, restclient.ListUsersOptions{Filter: filter, Limit: 1}); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	_, _, err := c.ListUsers(flooder, restclient.ListUsersOptions{Filter: "c", Limit: 1})
	var le *restclient.LimitError
	if !errors.As(err, &le) || le.RetryAfter <= 0 {
		t.Fatalf("a call past the share: %v, want a *LimitError with a retry time", err)
	}
	if n := fake.TotalCalls(); n != 2 {
		t.Fatalf("%d calls reached Cognigy, want the 2 of the burst", n)
	}
	if _, _, err := c.ListUsers(flooder, restclient.ListUsersOptions{Filter: "a", Limit: 1}); err != nil {
		t.Fatalf("a repeat the cache answers was held back: %v", err)
	}
	if _, _, err := c.ListUsers(other, restclient.ListUsersOptions{Filter: "c", Limit: 1}); err != nil {
		t.Fatalf("another credential was held back by the first's share: %v", err)
	}
}
