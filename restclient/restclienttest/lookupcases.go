package restclienttest

import (
	"fmt"
	"net/http"
	"strings"
)

// FilterField is a user field that the list's filter parameter matches.
// Cognigy documents filter only as "the name or id of the user", so which
// fields a real deployment matches is not known; the fake can take on each
// reading.
type FilterField string

// The fields filter can match.
const (
	// FilterID matches the exact _id.
	FilterID FilterField = "_id"
	// FilterName matches a case-insensitive substring of the name.
	FilterName FilterField = "name"
	// FilterEmail matches a case-insensitive substring of the login e-mail
	// (REST "id").
	FilterEmail FilterField = "id"
)

// filterFields is the set of fields filter matches.
type filterFields struct{ id, name, email bool }

var allFilterFields = filterFields{id: true, name: true, email: true}

// WithFilterMatches makes filter match only the given fields (default: all
// three, FilterID, FilterName and FilterEmail).
func WithFilterMatches(fields ...FilterField) Option {
	return func(c *config) {
		c.filter = filterFields{}
		for _, f := range fields {
			switch f {
			case FilterID:
				c.filter.id = true
			case FilterName:
				c.filter.name = true
			case FilterEmail:
				c.filter.email = true
			default:
				panic(fmt.Sprintf("restclienttest: unknown filter field %q", f))
			}
		}
	}
}

// WithoutReadUser makes GET /v2.0/users/{id} absent, as on a deployment
// that does not route it: status 404 answers without a Cognigy problem body
// (an HTML page, like a router that knows no such path), 405 and any other
// status with a problem body of that status.
func WithoutReadUser(status int) Option {
	return func(c *config) { c.readUserStatus = status }
}

// serveAbsentReadUser answers a readUser request on a fake without one.
func serveAbsentReadUser(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusNotFound {
		body := []byte("<!DOCTYPE html>\n<html><body><pre>Cannot GET " + htmlEscape(r.URL.Path) + "</pre></body></html>\n")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		writeRaw(w, status, body)
		return
	}
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST")
	}
	writeProblem(w, r, status, defaultCode(status), "GET /v2.0/users/{userId} is not available")
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// The upstream behaviours of a user lookup that the facade must handle;
// LookupCaseOptions turns one into options.
const (
	// LookupCaseA: filter matches _id, name and e-mail; readUser is served.
	// The fake's default.
	LookupCaseA = "a"
	// LookupCaseB: filter matches only name and e-mail; readUser is served.
	LookupCaseB = "b"
	// LookupCaseC: as LookupCaseB, and readUser is absent (404 without a
	// problem body).
	LookupCaseC = "c"
	// LookupCaseC405: as LookupCaseC, but readUser answers 405.
	LookupCaseC405 = "c405"
)

// LookupCases lists the case names LookupCaseOptions accepts.
var LookupCases = []string{LookupCaseA, LookupCaseB, LookupCaseC, LookupCaseC405}

// LookupCaseOptions returns the options that make the fake behave as the
// named lookup case.
func LookupCaseOptions(name string) ([]Option, error) {
	nameAndEmail := WithFilterMatches(FilterName, FilterEmail)
	switch name {
	case LookupCaseA:
		return nil, nil
	case LookupCaseB:
		return []Option{nameAndEmail}, nil
	case LookupCaseC:
		return []Option{nameAndEmail, WithoutReadUser(http.StatusNotFound)}, nil
	case LookupCaseC405:
		return []Option{nameAndEmail, WithoutReadUser(http.StatusMethodNotAllowed)}, nil
	}
	return nil, fmt.Errorf("restclienttest: lookup case must be one of %s, got %q", strings.Join(LookupCases, ", "), name)
}
