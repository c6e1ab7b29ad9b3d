package restclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sameTime fails the test unless got is want's instant in UTC (or both are
// the zero Time).
func sameTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero Time", field, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", field, got.Location())
	}
}

// sameUser fails the test unless got and want are the same user.
func sameUser(t *testing.T, got, want User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name ||
		got.CreatedBy != want.CreatedBy || got.LastChangedBy != want.LastChangedBy {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	sameTime(t, want.ID+".LastActive", got.LastActive, want.LastActive)
	sameTime(t, want.ID+".CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, want.ID+".LastChanged", got.LastChanged, want.LastChanged)
}

func TestListUsers_decoding(t *testing.T) {
	const full = `{
		"items": [
			{
				"_id": "65f0c0ffee0123456789abcd",
				"id": "ana@example.com",
				"name": "Ana Müller",
				"lastActive": 1700000000,
				"createdAt": 1694518620,
				"lastChanged": 1694518700,
				"createdBy": "000000000000000000000001",
				"lastChangedBy": "000000000000000000000002",
				"organisation": "ignored",
				"roles": ["admin"]
			},
			{
				"_id": "65f0c0ffee0123456789abce",
				"id": "bo@example.com",
				"name": "Bo",
				"lastActive": 1700000000123,
				"createdAt": 1694518620,
				"lastChanged": 1694518620
			},
			{
				"_id": "65f0c0ffee0123456789abcf",
				"id": "cy@example.com",
				"name": "Cy",
				"createdAt": 1694518620,
				"lastChanged": 1694518620,
				"createdBy": null
			}
		],
		"total": 57,
		"nextCursor": "65f0c0ffee0123456789abcf",
		"previousCursor": "65f0c0ffee0123456789abcd"
	}`

	t.Run("a full page maps every field", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, full)
		})
		page, resp, err := client.ListUsers(t.Context(), ListUsersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("resp.StatusCode = %d, want 200", resp.StatusCode)
		}
		if page.Total != 57 {
			t.Errorf("Total = %d, want 57", page.Total)
		}
		if page.NextCursor != "65f0c0ffee0123456789abcf" || page.PreviousCursor != "65f0c0ffee0123456789abcd" {
			t.Errorf("cursors = %q, %q", page.NextCursor, page.PreviousCursor)
		}
		created := time.Date(2023, 9, 12, 11, 37, 0, 0, time.UTC)
		want := []User{
			{
				ID:            "65f0c0ffee0123456789abcd",
				Email:         "ana@example.com",
				Name:          "Ana Müller",
				LastActive:    time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC),
				CreatedAt:     created,
				LastChanged:   time.Date(2023, 9, 12, 11, 38, 20, 0, time.UTC),
				CreatedBy:     "000000000000000000000001",
				LastChangedBy: "000000000000000000000002",
			},
			{
				ID:          "65f0c0ffee0123456789abce",
				Email:       "bo@example.com",
				Name:        "Bo",
				LastActive:  time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC),
				CreatedAt:   created,
				LastChanged: created,
			},
			{
				ID:          "65f0c0ffee0123456789abcf",
				Email:       "cy@example.com",
				Name:        "Cy",
				CreatedAt:   created,
				LastChanged: created,
			},
		}
		if len(page.Items) != len(want) {
			t.Fatalf("len(Items) = %d, want %d", len(page.Items), len(want))
		}
		for i := range want {
			sameUser(t, page.Items[i], want[i])
		}
	})

	t.Run("null cursors are empty strings", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"items":[{"_id":"65f0c0ffee0123456789abcd"}],"total":1,"nextCursor":null,"previousCursor":null}`)
		})
		page, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if page.NextCursor != "" || page.PreviousCursor != "" {
			t.Errorf("cursors = %q, %q; want empty", page.NextCursor, page.PreviousCursor)
		}
		if page.Total != 1 || len(page.Items) != 1 || page.Items[0].ID != "65f0c0ffee0123456789abcd" {
			t.Errorf("page = %+v", page)
		}
	})

	t.Run("absent cursors are empty strings and an empty page is not nil", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"items":[],"total":0}`)
		})
		page, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Items == nil || len(page.Items) != 0 || page.Total != 0 || page.NextCursor != "" || page.PreviousCursor != "" {
			t.Errorf("page = %#v, want an empty page with a non-nil Items", page)
		}
	})

	t.Run("total counts the filter's matches, not the page", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"items":[{"_id":"65f0c0ffee0123456789abcd"}],"total":1234}`)
		})
		page, _, err := client.ListUsers(t.Context(), ListUsersOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 1234 || len(page.Items) != 1 {
			t.Errorf("Total, len(Items) = %d, %d; want 1234, 1", page.Total, len(page.Items))
		}
	})
}

func TestLastActiveUnits(t *testing.T) {
	tests := []struct {
		name string
		raw  string // the lastActive member, or "" for none
		want time.Time
	}{
		{"seconds are read as seconds", `"lastActive":1700000000,`, time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)},
		{"milliseconds are read as milliseconds", `"lastActive":1700000000123,`, time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC)},
		{"exactly 1e11 is still seconds", `"lastActive":100000000000,`, time.Date(5138, 11, 16, 9, 46, 40, 0, time.UTC)},
		{"just above 1e11 is milliseconds", `"lastActive":100000000001,`, time.Date(1973, 3, 3, 9, 46, 40, 1e6, time.UTC)},
		{"a float of seconds drops its fraction", `"lastActive":1700000000.9,`, time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)},
		{"an exponent form of milliseconds is read", `"lastActive":1.700000000123e12,`, time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC)},
		{"absent is the zero time", ``, time.Time{}},
		{"null is the zero time", `"lastActive":null,`, time.Time{}},
		{"zero is the zero time", `"lastActive":0,`, time.Time{}},
		{"a negative value is the zero time", `"lastActive":-5,`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"items":[{`+tt.raw+`"_id":"65f0c0ffee0123456789abcd"}],"total":1}`)
			})
			page, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameTime(t, "LastActive", page.Items[0].LastActive, tt.want)
		})
	}
}

func TestUnixSeconds(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want time.Time
	}{
		{"a Unix second is UTC", 1694518620, time.Date(2023, 9, 12, 11, 37, 0, 0, time.UTC)},
		{"the largest 32-bit timestamp is read", 2147483647, time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC)},
		{"one second after the epoch is set", 1, time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"zero means not set", 0, time.Time{}},
		{"a negative value means not set", -1694518620, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameTime(t, "unixSeconds", unixSeconds(tt.in), tt.want)
		})
	}
}

func TestListUsers_decodeErrors(t *testing.T) {
	deep := strings.Repeat(`{"items":`, 20000) + "[]" + strings.Repeat("}", 20000)
	deepArray := `{"total":1,"items":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	tests := []struct {
		name string
		body string
	}{
		{"a missing total is refused", `{"items":[]}`},
		{"a null total is refused", `{"items":[],"total":null}`},
		{"missing items are refused", `{"total":0}`},
		{"null items are refused", `{"items":null}`},
		{"null items with a total are refused", `{"items":null,"total":3}`},
		{"an item without _id is refused", `{"items":[{"id":"ana@example.com"}],"total":1}`},
		{"an item with an empty _id is refused", `{"items":[{"_id":""}],"total":1}`},
		{"a null item is refused", `{"items":[{"_id":"65f0c0ffee0123456789abcd"},null],"total":2}`},
		{"malformed JSON is refused", `{"items":[`},
		{"an empty body is refused", ``},
		{"trailing garbage is refused", emptyPage + `x`},
		{"createdAt as a string is refused", `{"items":[{"_id":"65f0c0ffee0123456789abcd","createdAt":"1694518620"}],"total":1}`},
		{"lastActive as a string is refused", `{"items":[{"_id":"65f0c0ffee0123456789abcd","lastActive":"yesterday"}],"total":1}`},
		{"_id as a number is refused", `{"items":[{"_id":42}],"total":1}`},
		{"a fractional total is refused", `{"items":[],"total":1.5}`},
		{"total as a string is refused", `{"items":[],"total":"1"}`},
		{"items as an object is refused", `{"items":{},"total":0}`},
		{"a cursor as a number is refused", `{"items":[],"total":0,"nextCursor":5}`},
		{"a null body is refused", `null`},
		{"an array body is refused", `[]`},
		{"a string body is refused", `"x"`},
		{"a number body is refused", `0`},
		{"an HTML body is refused", `<!doctype html><title>Login</title>`},
		{"a deeply nested object is refused", deep},
		{"a deeply nested array is refused", deepArray},
		{"a body of invalid UTF-8 bytes is refused", "\xff\xfe{"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, tt.body)
			})
			page, resp, err := client.ListUsers(t.Context(), ListUsersOptions{})
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *DecodeError", err, err)
			}
			if de.StatusCode != http.StatusOK {
				t.Errorf("DecodeError.StatusCode = %d, want 200", de.StatusCode)
			}
			if de.Err == nil || errors.Unwrap(err) != de.Err {
				t.Errorf("DecodeError.Err = %v, want the cause, unwrapped by Unwrap", de.Err)
			}
			if !strings.HasPrefix(err.Error(), "cognigy: unusable 200 response: ") {
				t.Errorf("err.Error() = %q", err.Error())
			}
			if errors.Is(err, ErrResponseTooLarge) {
				t.Errorf("err = %v, want a decoding failure, not the size cap", err)
			}
			if page != nil {
				t.Errorf("page = %+v, want nil", page)
			}
			if resp == nil || resp.StatusCode != http.StatusOK {
				t.Errorf("resp = %+v, want the 200 response", resp)
			}
		})
	}

	t.Run("any 2xx status is decoded, and a bad body names its status", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})
		_, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		var de *DecodeError
		if !errors.As(err, &de) || de.StatusCode != http.StatusNoContent {
			t.Errorf("err = %v, want *DecodeError with StatusCode 204", err)
		}
	})

	t.Run("extreme numbers decode without a panic", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{"items":[{"_id":"65f0c0ffee0123456789abcd","createdAt":1e308,"lastChanged":-1e308,"lastActive":1e300}],"total":1}`)
		})
		page, _, err := client.ListUsers(t.Context(), ListUsersOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != "65f0c0ffee0123456789abcd" {
			t.Errorf("page = %+v", page)
		}
		if !page.Items[0].LastChanged.IsZero() {
			t.Errorf("LastChanged = %v for a negative value, want zero", page.Items[0].LastChanged)
		}
	})
}

func TestGetUser(t *testing.T) {
	t.Run("a user is decoded", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			testHeader(t, r, "Accept", "application/json")
			if got := r.PathValue("id"); got != "65f0c0ffee0123456789abcd" {
				t.Errorf("id = %q", got)
			}
			if r.URL.RawQuery != "" {
				t.Errorf("query = %q, want none", r.URL.RawQuery)
			}
			writeJSON(w, http.StatusOK, `{
				"_id": "65f0c0ffee0123456789abcd",
				"id": "ana@example.com",
				"name": "Ana",
				"organisation": "000000000000000000000009",
				"roles": ["userManager"],
				"projects": [],
				"acceptedTOS": true,
				"disabled": false,
				"createdAt": 1694518620,
				"lastChanged": 1694518700,
				"createdBy": "000000000000000000000001",
				"lastChangedBy": "000000000000000000000002"
			}`)
		})
		u, resp, err := client.GetUser(t.Context(), "65f0c0ffee0123456789abcd")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("resp.StatusCode = %d", resp.StatusCode)
		}
		sameUser(t, *u, User{
			ID:            "65f0c0ffee0123456789abcd",
			Email:         "ana@example.com",
			Name:          "Ana",
			CreatedAt:     time.Date(2023, 9, 12, 11, 37, 0, 0, time.UTC),
			LastChanged:   time.Date(2023, 9, 12, 11, 38, 20, 0, time.UTC),
			CreatedBy:     "000000000000000000000001",
			LastChangedBy: "000000000000000000000002",
		})
	})

	escapes := []struct {
		name    string
		id      string
		wantRaw string // the escaped last path segment on the wire
	}{
		{"an ObjectId is sent as is", "65f0c0ffee0123456789abcd", "65f0c0ffee0123456789abcd"},
		{"a slash stays inside the segment", "a/b", "a%2Fb"},
		{"a query and fragment cannot be started", "x?limit=1#y", "x%3Flimit=1%23y"},
		{"a space and a percent are escaped", "a b%zz", "a%20b%25zz"},
		{"non-ASCII letters are escaped as UTF-8", "ü", "%C3%BC"},
		{"a dot-dot path cannot climb out of /users", "../../v2.0/flows", "..%2F..%2Fv2.0%2Fflows"},
	}
	for _, tt := range escapes {
		t.Run("path escaping: "+tt.name, func(t *testing.T) {
			// A bare handler, not a mux: a mux would clean or redirect
			// the path before the test could see what was sent.
			var calls atomic.Int32
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if got, want := r.RequestURI, "/new/v2.0/users/"+tt.wantRaw; got != want {
					t.Errorf("request URI = %q, want %q", got, want)
				}
				seg := strings.TrimPrefix(r.URL.EscapedPath(), "/new/v2.0/users/")
				if got, err := url.PathUnescape(seg); err != nil || got != tt.id {
					t.Errorf("unescaped id = %q (%v), want %q", got, err, tt.id)
				}
				writeJSON(w, http.StatusOK, `{"_id":"65f0c0ffee0123456789abcd"}`)
			}))
			defer server.Close()
			client, err := New(server.URL + "/new/")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := client.GetUser(t.Context(), tt.id); err != nil {
				t.Fatalf("GetUser(%q): %v", tt.id, err)
			}
			if calls.Load() != 1 {
				t.Errorf("server saw %d requests, want 1", calls.Load())
			}
		})
	}

	t.Run("an empty or dot-segment id is refused before anything is sent", func(t *testing.T) {
		for _, id := range []string{"", ".", ".."} {
			var calls atomic.Int32
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeJSON(w, http.StatusOK, `{"_id":"65f0c0ffee0123456789abcd"}`)
			}))
			client, err := New(server.URL + "/new")
			if err != nil {
				t.Fatal(err)
			}
			u, _, err := client.GetUser(t.Context(), id)
			server.Close()
			if err == nil || u != nil {
				t.Errorf("GetUser(%q) = %+v, %v; want an error", id, u, err)
			}
			if calls.Load() != 0 {
				t.Errorf("GetUser(%q) sent %d requests, want none", id, calls.Load())
			}
		}
	})

	t.Run("an unknown id is a 404 *ErrorResponse with code 1002", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			body := `{"type":"Not Found","title":"Not Found Error","status":404,"detail":"User not found.","instance":"/new/v2.0/users/` +
				r.PathValue("id") + `","code":1002,"traceId":"api--f84324f4-98eb-4f02-abdd-375a2e6c3c1f","details":{},"logLevel":"error"}`
			w.Write([]byte(body))
		})
		u, resp, err := client.GetUser(t.Context(), "65f0c0ffee0123456789abcd")
		var er *ErrorResponse
		if !errors.As(err, &er) {
			t.Fatalf("err = %v (%T), want *ErrorResponse", err, err)
		}
		if u != nil {
			t.Errorf("user = %+v, want nil", u)
		}
		if resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("resp = %+v, want the 404", resp)
		}
		want := ErrorResponse{
			StatusCode: 404,
			Type:       "Not Found",
			Title:      "Not Found Error",
			Detail:     "User not found.",
			Instance:   "/new/v2.0/users/65f0c0ffee0123456789abcd",
			Code:       "1002",
			TraceID:    "api--f84324f4-98eb-4f02-abdd-375a2e6c3c1f",
		}
		if *er != want {
			t.Errorf("ErrorResponse = %+v, want %+v", *er, want)
		}
		if got := err.Error(); got != "cognigy: 404 Not Found (code 1002): User not found." {
			t.Errorf("err.Error() = %q", got)
		}
	})

	userErrors := []struct {
		name string
		body string
	}{
		{"a user without _id is a *DecodeError", `{"id":"ana@example.com","name":"Ana"}`},
		{"a user with an empty _id is a *DecodeError", `{"_id":""}`},
		{"a null body is a *DecodeError", `null`},
		{"a page instead of a user is a *DecodeError", emptyPage},
		{"an array is a *DecodeError", `[{"_id":"65f0c0ffee0123456789abcd"}]`},
		{"malformed JSON is a *DecodeError", `{"_id":`},
		{"createdAt as a string is a *DecodeError", `{"_id":"65f0c0ffee0123456789abcd","createdAt":"now"}`},
	}
	for _, tt := range userErrors {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc("GET /v2.0/users/{id}", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, tt.body)
			})
			u, resp, err := client.GetUser(t.Context(), "65f0c0ffee0123456789abcd")
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *DecodeError", err, err)
			}
			if de.StatusCode != http.StatusOK || u != nil || resp == nil {
				t.Errorf("StatusCode, user, resp = %d, %v, %v; want 200, nil, the response", de.StatusCode, u, resp)
			}
		})
	}

	t.Run("an empty id never yields a user", func(t *testing.T) {
		client, mux, _ := setup(t)
		mux.HandleFunc("GET /v2.0/users/", func(w http.ResponseWriter, r *http.Request) {
			// What a lenient upstream might answer for /users/: the list.
			writeJSON(w, http.StatusOK, `{"items":[{"_id":"65f0c0ffee0123456789abcd"}],"total":1}`)
		})
		u, _, err := client.GetUser(t.Context(), "")
		if err == nil || u != nil {
			t.Errorf("GetUser(\"\") = %+v, %v; want an error", u, err)
		}
	})
}

func TestSort(t *testing.T) {
	tests := []struct {
		name        string
		sort        Sort
		wantString  string
		wantReverse string
	}{
		{"an empty sort renders as nothing", nil, "", ""},
		{"one ascending rule", Sort{{Field: SortByName}}, "name:asc", "name:desc"},
		{"one descending rule", Sort{{Field: SortByLastActive, Descending: true}}, "lastActive:desc", "lastActive:asc"},
		{
			"every field in order",
			Sort{{Field: SortByID}, {Field: SortByEmail, Descending: true}, {Field: SortByName}, {Field: SortByLastActive}, {Field: SortByCreatedAt, Descending: true}, {Field: SortByLastChanged}},
			"_id:asc,id:desc,name:asc,lastActive:asc,createdAt:desc,lastChanged:asc",
			"_id:desc,id:asc,name:desc,lastActive:desc,createdAt:asc,lastChanged:desc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sort.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			if got := tt.sort.Reverse().String(); got != tt.wantReverse {
				t.Errorf("Reverse().String() = %q, want %q", got, tt.wantReverse)
			}
			if got := tt.sort.Reverse().Reverse().String(); got != tt.wantString {
				t.Errorf("Reverse().Reverse().String() = %q, want %q", got, tt.wantString)
			}
		})
	}

	t.Run("Reverse does not modify the receiver", func(t *testing.T) {
		s := Sort{{Field: SortByName}, {Field: SortByID, Descending: true}}
		_ = s.Reverse()
		if s[0].Descending || !s[1].Descending {
			t.Errorf("receiver changed to %v", s)
		}
	})
}
