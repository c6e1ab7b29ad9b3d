package restclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersgraph/usersgraph/restclient"
	"github.com/usersgraph/usersgraph/restclient/restclienttest"
)

func TestCache(t *testing.T) {
	other := []restclienttest.User{{ID: restclienttest.NewID(7), Name: "Other tenant"}}
	t.Run("a repeat within the TTL costs no call, per credential", func(t *testing.T) {
		fake, c := fakeAndClient(t, []restclienttest.Option{restclienttest.WithTenant("other-key", other)}, restclient.WithCache(time.Minute, 100))
		for range 3 {
			for _, secret := range []string{key, "other-key"} {
				p, _, err := c.ListUsers(withKey(t.Context(), secret), restclient.ListUsersOptions{Limit: 5})
				if err != nil {
					t.Fatal(err)
				}
				if want := map[string]int{key: 300, "other-key": 1}[secret]; p.Total != want {
					t.Fatalf("%s saw total %d: an entry crossed credentials", secret, p.Total)
				}
			}
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("a 404 is cached too", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(time.Minute, 100))
		for range 2 {
			_, _, err := c.GetUser(withKey(t.Context(), key), restclienttest.NewID(99999))
			var er *restclient.ErrorResponse
			if !errors.As(err, &er) || er.StatusCode != 404 {
				t.Fatalf("err = %v", err)
			}
		}
		if n := fake.TotalCalls(); n != 1 {
			t.Fatalf("%d calls", n)
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(time.Minute, 100))
		fake.InjectFault(restclienttest.RouteList, restclienttest.Fault{Status: 500, Times: 1})
		for range 2 {
			_, _, _ = c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1})
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls", n)
		}
	})
	t.Run("a TTL of zero turns it off", func(t *testing.T) {
		fake, c := fakeAndClient(t, nil, restclient.WithCache(0, 100))
		for i := range 2 {
			if _, _, err := c.ListUsers(withKey(t.Context(), key), restclient.ListUsersOptions{Limit: 1}); err != nil {
				t.Fatal(i, err)
			}
		}
		if n := fake.TotalCalls(); n != 2 {
			t.Fatalf("%d calls", n)
		}
	})
}
