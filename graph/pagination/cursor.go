// Package pagination owns the Relay cursor arithmetic of the users
// connection: what an edge cursor holds, how it is encoded, and how
// first/after/last/before become one upstream page request. It is pure: no
// I/O, no GraphQL, so every case is table-tested.
package pagination

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"hash/fnv"
)

// Cursor is the decoded form of an edge cursor. Clients see it only as an
// opaque string.
type Cursor struct {
	// Query binds the cursor to the filter and order it was issued for.
	Query uint64
	// Offset is the edge's position in the whole, forward-ordered result.
	Offset int
	// Reversed says Forward and Backward were issued for the reversed sort.
	Reversed bool
	// Forward is the upstream cursor that continues right after this edge
	// (set on a page's last edge), "" when there is none.
	Forward string
	// Backward is the upstream cursor that continues right before this edge
	// (set on a page's first edge).
	Backward string
}

// Errors of Decode. Both mean the client sent a cursor it did not get from
// this query.
var (
	ErrInvalidCursor = errors.New("cursor is not valid")
	ErrForeignCursor = errors.New("cursor belongs to a different filter or orderBy")
)

const (
	cursorVersion = 1

	flagReversed = 1 << iota
	flagForward
	flagBackward

	maxTokenLen = 64
)

var b64 = base64.RawURLEncoding

// QueryKey identifies a result order: the filter and the complete upstream
// sort string. Cursors carry it so that one from another query is refused.
func QueryKey(filter, sort string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(filter))
	h.Write([]byte{0})
	h.Write([]byte(sort))
	return h.Sum64()
}

// Encode renders c as base64url of a small versioned binary record with a
// checksum, so a garbled cursor is detected rather than misread.
func (c Cursor) Encode() string {
	var buf [2 + 8 + binary.MaxVarintLen64 + 2*(1+maxTokenLen) + 4]byte
	b := buf[:0]
	flags := byte(0)
	if c.Reversed {
		flags |= flagReversed
	}
	fwd, bwd := c.Forward, c.Backward
	if len(fwd) > maxTokenLen {
		fwd = "" // never issued by a contract-faithful upstream; drop rather than corrupt
	}
	if len(bwd) > maxTokenLen {
		bwd = ""
	}
	if fwd != "" {
		flags |= flagForward
	}
	if bwd != "" {
		flags |= flagBackward
	}
	b = append(b, cursorVersion, flags)
	b = binary.BigEndian.AppendUint64(b, c.Query)
	b = binary.AppendUvarint(b, uint64(max(c.Offset, 0)))
	if fwd != "" {
		b = append(b, byte(len(fwd)))
		b = append(b, fwd...)
	}
	if bwd != "" {
		b = append(b, byte(len(bwd)))
		b = append(b, bwd...)
	}
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	// Encoded on the stack: the string is the one allocation.
	var out [(len(buf)*4 + 2) / 3]byte
	n := b64.EncodedLen(len(b))
	b64.Encode(out[:n], b)
	return string(out[:n])
}

// checksum is crc32.ChecksumIEEE(b), computed here: the standard one calls
// through a function variable, which makes b escape, so every cursor's
// record went to the heap. For the few dozen bytes of a cursor the table
// loop is as fast.
func checksum(b []byte) uint32 {
	crc := ^uint32(0)
	for _, v := range b {
		crc = crc32.IEEETable[byte(crc)^v] ^ (crc >> 8)
	}
	return ^crc
}

// maxEncodedLen bounds what Decode will look at.
const maxEncodedLen = 256

// Decode parses a cursor and checks that it belongs to query.
func Decode(s string, query uint64) (Cursor, error) {
	if len(s) == 0 || len(s) > maxEncodedLen {
		return Cursor{}, ErrInvalidCursor
	}
	var buf [maxEncodedLen]byte
	n, err := b64.Decode(buf[:], []byte(s))
	if err != nil || n < 2+8+1+4 {
		return Cursor{}, ErrInvalidCursor
	}
	b := buf[:n]
	body, sum := b[:n-4], binary.BigEndian.Uint32(b[n-4:])
	if checksum(body) != sum || body[0] != cursorVersion {
		return Cursor{}, ErrInvalidCursor
	}
	flags := body[1]
	if flags&^(flagReversed|flagForward|flagBackward) != 0 {
		return Cursor{}, ErrInvalidCursor
	}
	c := Cursor{Query: binary.BigEndian.Uint64(body[2:10]), Reversed: flags&flagReversed != 0}
	rest := body[10:]
	off, k := binary.Uvarint(rest)
	if k <= 0 || off > 1<<40 {
		return Cursor{}, ErrInvalidCursor
	}
	c.Offset = int(off)
	rest = rest[k:]
	if flags&flagForward != 0 {
		if c.Forward, rest, err = readToken(rest); err != nil {
			return Cursor{}, err
		}
	}
	if flags&flagBackward != 0 {
		if c.Backward, rest, err = readToken(rest); err != nil {
			return Cursor{}, err
		}
	}
	if len(rest) != 0 {
		return Cursor{}, ErrInvalidCursor
	}
	if c.Query != query {
		return Cursor{}, ErrForeignCursor
	}
	return c, nil
}

func readToken(b []byte) (string, []byte, error) {
	if len(b) < 1 {
		return "", nil, ErrInvalidCursor
	}
	n := int(b[0])
	if n == 0 || n > maxTokenLen || len(b) < 1+n {
		return "", nil, ErrInvalidCursor
	}
	return string(b[1 : 1+n]), b[1+n:], nil
}
