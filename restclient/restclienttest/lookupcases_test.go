package restclienttest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestLookupCases(t *testing.T) {
	id := NewID(3) // "Zoë Müller", zoe.mueller2@example.com
	for _, tc := range []struct {
		name                 string
		filterFindsByID      bool
		readUserStatus       int
		readUserProblemCode  string // "" when the answer has no problem body
		readUserContentStart string
	}{
		{LookupCaseA, true, http.StatusOK, "", "{"},
		{LookupCaseB, false, http.StatusOK, "", "{"},
		{LookupCaseC, false, http.StatusNotFound, "", "<!DOCTYPE html>"},
		{LookupCaseC405, false, http.StatusMethodNotAllowed, "1013", "{"},
	} {
		t.Run("case "+tc.name, func(t *testing.T) {
			opts, err := LookupCaseOptions(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			s := start(t, append(opts, WithUsers(fixture()), WithAPIKey(testKey))...)

			t.Run("filter by _id finds the user only where the case says so", func(t *testing.T) {
				got := slices.Contains(list(t, s, q("filter", id)).ids(), id)
				if got != tc.filterFindsByID {
					t.Fatalf("filter=<_id> found the user: %v, want %v", got, tc.filterFindsByID)
				}
			})
			t.Run("filter by name and by e-mail find the user in every case", func(t *testing.T) {
				for _, f := range []string{"zoë müller", "ZOE.MUELLER2@"} {
					if p := list(t, s, q("filter", f)); !slices.Contains(p.ids(), id) {
						t.Fatalf("filter=%q: %v", f, p.ids())
					}
				}
			})
			t.Run("readUser answers as the case says", func(t *testing.T) {
				r := mustGet(t, s, "/v2.0/users/"+id, nil)
				if r.Status != tc.readUserStatus || !strings.HasPrefix(string(r.Body), tc.readUserContentStart) {
					t.Fatalf("status %d, body %.60q", r.Status, r.Body)
				}
				if tc.readUserProblemCode != "" {
					if p := decodeProblem(t, r); string(p.Code) != tc.readUserProblemCode {
						t.Fatalf("code %s, want %s", p.Code, tc.readUserProblemCode)
					}
				}
			})
			t.Run("an unknown id still has readUser's Cognigy 404 where readUser is served", func(t *testing.T) {
				if tc.readUserStatus != http.StatusOK {
					t.Skip("readUser is absent in this case")
				}
				r := mustGet(t, s, "/v2.0/users/"+NewID(999), nil)
				if p := decodeProblem(t, r); r.Status != http.StatusNotFound || string(p.Code) != "1002" {
					t.Fatalf("status %d, code %s", r.Status, p.Code)
				}
			})
		})
	}
	t.Run("an unknown case name is an error that lists the known ones", func(t *testing.T) {
		if _, err := LookupCaseOptions("d"); err == nil || !strings.Contains(err.Error(), "a, b, c, c405") {
			t.Fatalf("err = %v", err)
		}
	})
}
