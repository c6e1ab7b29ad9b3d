package restclienttest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"strconv"
	"strings"
)

const (
	basePath  = "/new"
	usersPath = basePath + "/v2.0/users"
)

// Cognigy's error codes used by the fake.
const (
	codeInvalidArgument  = 1005
	codeNotFound         = 1002
	codeMethodNotAllowed = 1013
)

// wireUser is a list item. Its fields match User one for one, so a User
// converts to it directly.
type wireUser struct {
	ID            string   `json:"_id"`
	Email         string   `json:"id,omitempty"`
	Name          string   `json:"name,omitempty"`
	LastActive    *float64 `json:"lastActive,omitempty"`
	CreatedAt     int64    `json:"createdAt"`
	LastChanged   int64    `json:"lastChanged"`
	CreatedBy     string   `json:"createdBy,omitempty"`
	LastChangedBy string   `json:"lastChangedBy,omitempty"`
}

// wireDetail is the single-user document of readUser: a list item without
// lastActive but with a few fields the list lacks.
type wireDetail struct {
	wireUser
	Organisation string   `json:"organisation"`
	Roles        []string `json:"roles"`
	Projects     []string `json:"projects"`
	AcceptedTOS  bool     `json:"acceptedTOS"`
	Disabled     bool     `json:"disabled"`
}

// page is the list response; the cursors are pointers because the contract
// wants an explicit null, not an absent field.
type page struct {
	Items          []wireUser `json:"items"`
	Total          int        `json:"total"`
	NextCursor     *string    `json:"nextCursor"`
	PreviousCursor *string    `json:"previousCursor"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	route, id, known := classify(r.URL.Path)
	fault, ok := s.begin(route, r)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	defer s.inflight.Done()
	w.Header().Set("Content-Type", "application/json")
	if !s.sleep(r, s.latency) || !s.sleep(r, fault.Delay) {
		panic(http.ErrAbortHandler)
	}
	if fault.active() {
		s.applyFault(w, r, fault)
		return
	}
	switch {
	case !known:
		writeProblem(w, r, http.StatusNotFound, codeNotFound, "no route for "+r.URL.Path)
		return
	case route == RouteGet && s.readUserStatus != 0:
		serveAbsentReadUser(w, r, s.readUserStatus)
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeProblem(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	secret := credential(r)
	if s.forbidden[secret] {
		// The real service may answer 403 without a body.
		w.WriteHeader(http.StatusForbidden)
		return
	}
	s.mu.Lock()
	_, found := s.data[secret]
	s.mu.Unlock()
	if secret == "" || !found {
		// The detail never echoes the credential: tests and logs must not leak it.
		writeProblem(w, r, http.StatusUnauthorized, 401, "missing or invalid credential")
		return
	}
	if route == RouteGet {
		s.serveGet(w, r, secret, id)
		return
	}
	s.serveList(w, r, secret)
}

// classify maps a path to its route; id is set for RouteGet.
func classify(path string) (route Route, id string, known bool) {
	if path == usersPath {
		return RouteList, "", true
	}
	if rest, ok := strings.CutPrefix(path, usersPath+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return RouteGet, rest, true
	}
	return "", "", false
}

// credential returns the secret from any of the four forms Cognigy accepts.
func credential(r *http.Request) string {
	if v := r.Header.Get("X-API-Key"); v != "" {
		return v
	}
	if v := r.URL.Query().Get("api_key"); v != "" {
		return v
	}
	for _, h := range []string{"Authorization", "X-Cxone-Authorization"} {
		scheme, token, ok := strings.Cut(r.Header.Get(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			return strings.TrimSpace(token)
		}
	}
	return ""
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, secret string) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return
	}
	s.mu.Lock()
	v := s.viewOf(secret)
	ord := v.order(q.sort)
	s.mu.Unlock()
	q.fields = s.filter
	p, err := q.pageOf(v, ord)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, secret, id string) {
	s.mu.Lock()
	u, ok := s.data[secret][id]
	s.mu.Unlock()
	if !ok {
		writeProblem(w, r, http.StatusNotFound, codeNotFound, "user not found")
		return
	}
	u.LastActive = nil
	writeJSON(w, http.StatusOK, wireDetail{
		wireUser: wireUser(u), Organisation: organisation(secret), Roles: roles(u.ID),
		Projects: []string{}, AcceptedTOS: true,
	})
}

// organisation derives a stable organisation _id per credential, so tenants
// differ; it is a hash, so it does not reveal the secret.
func organisation(secret string) string {
	h := fnv.New64a()
	h.Write([]byte(secret))
	return fmt.Sprintf("5e8f1a2b%016x", h.Sum64())
}

func roles(id string) []string {
	all := []string{"admin", "userManager", "projectManager", "basicAdmin", "userDetailsViewer"}
	h := fnv.New32a()
	h.Write([]byte(id))
	return []string{all[h.Sum32()%uint32(len(all))]}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain structs are encoded here, so this is a bug in the fake.
		panic(fmt.Errorf("restclienttest: encode response: %w", err))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// problemCode returns code as a JSON number for some statuses and as a
// numeric string for the others, as the real service does, so clients must
// accept both.
func problemCode(status, code int) any {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusConflict:
		return code
	}
	return strconv.Itoa(code)
}

// defaultCode is the Cognigy code for a status when a fault does not say.
func defaultCode(status int) int {
	codes := map[int]int{
		400: codeInvalidArgument, 404: codeNotFound, 405: codeMethodNotAllowed, 409: 1004, 501: 1009, 504: 8001,
		401: 401, 403: 403, 429: 429, 503: 503,
	}
	if c, ok := codes[status]; ok {
		return c
	}
	return 1000
}

func problemBody(r *http.Request, status, code int, detail string) []byte {
	text := http.StatusText(status)
	body, _ := json.Marshal(map[string]any{
		"type":     text,
		"title":    text + " Error",
		"status":   status,
		"detail":   detail,
		"instance": strings.TrimPrefix(r.URL.Path, basePath),
		"code":     problemCode(status, code),
		"traceId":  "api--" + uuid4(),
		"details":  map[string]any{},
	})
	return body
}

func writeProblem(w http.ResponseWriter, r *http.Request, status, code int, detail string) {
	writeRaw(w, status, problemBody(r, status, code, detail))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// uuid4 formats 16 random bytes as a version 4 UUID, the shape of Cognigy's
// trace ids.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) {
	for k, vs := range f.Header {
		w.Header()[k] = append([]string(nil), vs...)
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		panic(http.ErrAbortHandler)
	case f.Reset:
		resetConn(w)
	case f.Truncated:
		body := s.fullBody()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// Aborting closes the connection short of the promised length.
		panic(http.ErrAbortHandler)
	case f.WrongShape:
		writeRaw(w, http.StatusOK, []byte(`{"items":"nope","total":"x"}`))
	case f.HugeBody > 0:
		s.writeHuge(w, f.HugeBody)
	default:
		switch {
		case f.NoBody:
			w.WriteHeader(f.Status)
		case f.Body != "":
			writeRaw(w, f.Status, []byte(f.Body))
		case f.Status >= 400:
			writeRaw(w, f.Status, problemBody(r, f.Status, defaultCode(f.Status), "injected fault"))
		default:
			w.WriteHeader(f.Status)
		}
	}
}

// resetConn closes the connection with an RST and without a response, which
// clients see as "connection reset by peer".
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// fullBody is a normal first page of the default dataset, used where a fault
// needs a realistic body.
func (s *Server) fullBody() []byte {
	s.mu.Lock()
	users := s.snapshot(s.apiKey)
	s.mu.Unlock()
	p, err := query{limit: defaultLimit}.page(users)
	if err != nil {
		panic(fmt.Errorf("restclienttest: default page: %w", err))
	}
	body, _ := json.Marshal(p)
	return body
}

// writeHuge streams a syntactically valid list response of exactly n bytes
// (or the smallest valid one, if n is smaller): one item repeated, then JSON
// whitespace to fill up, never held in memory. Its total is 0: the point is
// the size, which a client must refuse before trusting any field.
func (s *Server) writeHuge(w http.ResponseWriter, n int64) {
	item, _ := json.Marshal(wireUser{ID: NewID(0), Email: "huge.body@example.com", Name: "Huge Body"})
	head, tail := []byte(`{"items":[`), []byte(`],"total":0,"nextCursor":null,"previousCursor":null}`)
	room := max(n-int64(len(head)+len(tail)), 0)
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head)+len(tail))+room, 10))
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		select {
		case <-s.done:
			return false
		default:
		}
		_, err := w.Write(b)
		return err == nil
	}
	ok := write(head)
	for sep := []byte{}; ok && room >= int64(len(sep)+len(item)); sep = []byte{','} {
		ok = write(sep) && write(item)
		room -= int64(len(sep) + len(item))
	}
	spaces := bytes.Repeat([]byte{' '}, 32<<10)
	for ok && room > 0 {
		c := min(room, int64(len(spaces)))
		ok = write(spaces[:c])
		room -= c
	}
	if ok {
		write(tail)
	}
}
