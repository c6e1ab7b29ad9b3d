package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TrustedDocuments is a manifest of the operations a deployment's
// frontends send: id → document text. Clients send the id instead of the
// text (GraphQL over HTTP's documentId, Relay's doc_id, or an automatic
// persisted query's sha256Hash); with TrustedDocumentsOnly, nothing else
// runs.
type TrustedDocuments struct {
	byID   map[string]string
	byHash map[string]string // sha256 of each text → text
}

// LoadTrustedDocuments reads a manifest: Apollo's persisted-query manifest
// ({"format":"apollo-persisted-query-manifest","operations":[{"id",
// "body"}]}) or relay-compiler's persistConfig output ({"<id>": "<text>"}).
func LoadTrustedDocuments(path string) (*TrustedDocuments, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTrustedDocuments(b)
}

// ParseTrustedDocuments reads a manifest from its bytes; see
// LoadTrustedDocuments.
func ParseTrustedDocuments(b []byte) (*TrustedDocuments, error) {
	var apollo struct {
		Format     string `json:"format"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	t := &TrustedDocuments{byID: map[string]string{}, byHash: map[string]string{}}
	if err := json.Unmarshal(b, &apollo); err == nil && apollo.Format != "" {
		if apollo.Format != "apollo-persisted-query-manifest" {
			return nil, fmt.Errorf("trusted documents: unknown manifest format %q", apollo.Format)
		}
		for _, op := range apollo.Operations {
			t.add(op.ID, op.Body)
		}
	} else {
		var relay map[string]string
		if err := json.Unmarshal(b, &relay); err != nil {
			return nil, errors.New("trusted documents: neither an Apollo persisted-query manifest nor a relay-compiler persisted queries file")
		}
		for id, text := range relay {
			t.add(id, text)
		}
	}
	if len(t.byID) == 0 {
		return nil, errors.New("trusted documents: the manifest lists no operation")
	}
	return t, nil
}

func (t *TrustedDocuments) add(id, text string) {
	if id == "" || text == "" {
		return
	}
	t.byID[id] = text
	t.byHash[sha256Hex(text)] = text
}

// Len is the number of documents.
func (t *TrustedDocuments) Len() int { return len(t.byID) }

// lookup finds a document by its id, with or without a "sha256:" prefix,
// or by the sha256 of its text.
func (t *TrustedDocuments) lookup(id string) (string, bool) {
	if t == nil {
		return "", false
	}
	if text, ok := t.byID[id]; ok {
		return text, true
	}
	text, ok := t.byHash[strings.TrimPrefix(id, "sha256:")]
	return text, ok
}

// trusts reports a document text that the manifest holds.
func (t *TrustedDocuments) trusts(text string) bool {
	if t == nil {
		return false
	}
	_, ok := t.byHash[sha256Hex(text)]
	return ok
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
