package restclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorResponse is a non-2xx answer from Cognigy, with its RFC 7807 problem
// details when the body had them (a 401 or 403 may come with no body). Its
// message never contains a URL, a header or a credential.
type ErrorResponse struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Type, Title, Detail and Instance are the problem's fields.
	Type, Title, Detail, Instance string
	// Code is Cognigy's error code (sent as a number or a string), e.g. "1002".
	Code string
	// TraceID is Cognigy's trace id for support, e.g. "api--f843…".
	TraceID string
	// RetryAfter is the Retry-After header's wait, 0 when absent or unparseable.
	RetryAfter time.Duration
}

func (e *ErrorResponse) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cognigy: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, " (code %s)", e.Code)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	} else if e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	return b.String()
}

// DecodeError is a 2xx answer that could not be used: malformed JSON, a
// shape other than the contract's, or a body over the size cap.
type DecodeError struct {
	StatusCode int
	Err        error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cognigy: unusable %d response: %v", e.StatusCode, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrResponseTooLarge is wrapped by a DecodeError when a body exceeds the cap.
var ErrResponseTooLarge = errors.New("response body exceeds the size limit")

// TransportError is a request that got no HTTP answer: connection refused or
// reset, a timeout, a cancelled context. Unlike *url.Error, its message does
// not repeat the request's URL.
type TransportError struct {
	Err error
}

func (e *TransportError) Error() string { return "cognigy: request failed: " + e.Err.Error() }

func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the request ran out of time.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// problem is the RFC 7807 body as Cognigy sends it.
type problem struct {
	Type     string          `json:"type"`
	Title    string          `json:"title"`
	Detail   string          `json:"detail"`
	Instance string          `json:"instance"`
	Code     json.RawMessage `json:"code"`
	TraceID  string          `json:"traceId"`
}

// newErrorResponse builds the error for a non-2xx response from whatever
// body it had; a body that is not a problem is ignored, not an error.
func newErrorResponse(status int, header http.Header, body []byte, now time.Time) *ErrorResponse {
	e := &ErrorResponse{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
	var p problem
	if len(body) > 0 && json.Unmarshal(body, &p) == nil {
		e.Type, e.Title, e.Detail, e.Instance, e.TraceID = p.Type, p.Title, p.Detail, p.Instance, p.TraceID
		e.Code = problemCode(p.Code)
	}
	return e
}

// problemCode accepts the code as a JSON number or a JSON string.
func problemCode(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// maxRetryAfterSeconds caps Retry-After: a day is already "not soon", and a
// larger value would overflow time.Duration.
const maxRetryAfterSeconds = 24 * 60 * 60

// parseRetryAfter reads Retry-After as delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfterSeconds*time.Second)
		}
	}
	return 0
}
