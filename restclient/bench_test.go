package restclient

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// pageBody is a realistic page of n users as Cognigy sends it.
func pageBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"_id":"5cfbd4ef3f85ba6d9abc%04x","id":"user.%d@example.com","name":"Zoë Müller %d","lastActive":1700000000123,"createdAt":1694518620,"lastChanged":1694518999,"createdBy":"5cfbd4ef3f85ba6d9abc0000","lastChangedBy":"5cfbd4ef3f85ba6d9abc0001"}`, i, i, i)
	}
	b.WriteString(`],"total":300,"nextCursor":"abcdefabcdefabcdefabcdef","previousCursor":null}`)
	return []byte(b.String())
}

func BenchmarkDecodePage100(b *testing.B) {
	body := pageBody(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var w wirePage
		if err := json.Unmarshal(body, &w); err != nil {
			b.Fatal(err)
		}
		if _, err := w.page(); err != nil {
			b.Fatal(err)
		}
	}
}
