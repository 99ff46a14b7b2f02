package upstream

import (
	"bytes"
	"html"
	"iter"
	"strings"
)

// anchors yields the attributes of each <a> start tag of an HTML page,
// names lower-cased and values unescaped. A PEP 503 page is nothing but
// anchors, so a scanner of tags is all the parsing it needs; comments,
// scripts and anything else are skipped.
func anchors(b []byte) iter.Seq[map[string]string] {
	return func(yield func(map[string]string) bool) {
		for {
			i := bytes.IndexByte(b, '<')
			if i < 0 {
				return
			}
			b = b[i+1:]
			if bytes.HasPrefix(b, []byte("!--")) {
				end := bytes.Index(b, []byte("-->"))
				if end < 0 {
					return
				}
				b = b[end+3:]
				continue
			}
			if len(b) < 2 || b[0]|0x20 != 'a' || !isSpace(b[1]) && b[1] != '>' && b[1] != '/' {
				continue
			}
			attrs, rest := tagAttrs(b[1:])
			b = rest
			if !yield(attrs) {
				return
			}
		}
	}
}

// tagAttrs reads attributes up to the end of a tag and returns them with
// what follows the tag.
func tagAttrs(b []byte) (map[string]string, []byte) {
	attrs := map[string]string{}
	for {
		for len(b) > 0 && (isSpace(b[0]) || b[0] == '/') {
			b = b[1:]
		}
		if len(b) == 0 {
			return attrs, b
		}
		if b[0] == '>' {
			return attrs, b[1:]
		}
		n := 0
		for n < len(b) && !isSpace(b[n]) && b[n] != '=' && b[n] != '>' && b[n] != '/' {
			n++
		}
		name := strings.ToLower(string(b[:n]))
		b = b[n:]
		for len(b) > 0 && isSpace(b[0]) {
			b = b[1:]
		}
		val := ""
		if len(b) > 0 && b[0] == '=' {
			b = b[1:]
			for len(b) > 0 && isSpace(b[0]) {
				b = b[1:]
			}
			var raw []byte
			if len(b) > 0 && (b[0] == '"' || b[0] == '\'') {
				q := b[0]
				end := bytes.IndexByte(b[1:], q)
				if end < 0 {
					return attrs, nil
				}
				raw, b = b[1:1+end], b[2+end:]
			} else {
				m := 0
				for m < len(b) && !isSpace(b[m]) && b[m] != '>' {
					m++
				}
				raw, b = b[:m], b[m:]
			}
			val = html.UnescapeString(string(raw))
		}
		if _, dup := attrs[name]; !dup && name != "" {
			attrs[name] = val
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
