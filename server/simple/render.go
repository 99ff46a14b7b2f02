package simple

import (
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// APIVersion is the Simple API version rendered, in both formats: 1.1 (PEP
// 700) sizes, upload times and versions, 1.2 (PEP 708) alternate
// locations, 1.3 (PEP 740) provenance, 1.4 (PEP 792) project status.
const APIVersion = "1.4"

// Page is one project's page.
type Page struct {
	Name string // normalized project name
	// URLPrefix goes before every file's URL: the files' location relative
	// to the page. Kept apart so that no URL is put together per request.
	URLPrefix    string
	Status       string // PEP 792 status; "" or "active" for an active project
	StatusReason string
	Versions     []string
	Files        []File
	// Tracks are the pages of the same project elsewhere that this page
	// mirrors, and AlternateLocations the pages whose files this page
	// merges as one namespace with its own (PEP 708); absolute URLs.
	Tracks             []string
	AlternateLocations []string
}

// File is one link on a project page.
type File struct {
	Filename string
	URL      string // already escaped; relative to the page's URLPrefix
	// HashName and Hash (raw bytes; rendered in hex) are the digest in the
	// link fragment and the JSON "hashes"; both empty when hashing is off.
	HashName       string
	Hash           []byte
	RequiresPython string
	// CoreMetadata says a PEP 658 metadata file is served at URL+".metadata";
	// MetadataHash is its digest in HashName's algorithm, if any.
	CoreMetadata bool
	MetadataHash []byte
	Yanked       bool
	YankReason   string
	Size         int64
	UploadTime   time.Time
	// Provenance says a PEP 740 provenance object is served at
	// URL+".provenance".
	Provenance bool
	GPGSig     bool
}

// AppendIndexHTML renders the root page listing the given normalized names.
func AppendIndexHTML(b []byte, names []string) []byte {
	b = append(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\""+APIVersion+"\">\n<title>Simple index</title>\n</head>\n<body>\n"...)
	for _, n := range names {
		b = append(b, "<a href=\""...)
		b = appendHTML(b, n)
		b = append(b, "/\">"...)
		b = appendHTML(b, n)
		b = append(b, "</a><br>\n"...)
	}
	return append(b, "</body>\n</html>\n"...)
}

// AppendIndexJSON renders the root page as PEP 691 JSON.
func AppendIndexJSON(b []byte, names []string) []byte {
	b = append(b, `{"meta":{"api-version":"`+APIVersion+`"},"projects":[`...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, n)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// AppendPageHTML renders a project page. A quarantined project lists no
// files, as PEP 792 requires.
func AppendPageHTML(b []byte, p *Page) []byte {
	b = append(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\""+APIVersion+"\">\n"...)
	if p.Status != "" && p.Status != "active" {
		b = append(b, "<meta name=\"pypi:project-status\" content=\""...)
		b = appendHTML(b, p.Status)
		b = append(b, "\">\n"...)
		if p.StatusReason != "" {
			b = append(b, "<meta name=\"pypi:project-status-reason\" content=\""...)
			b = appendHTML(b, p.StatusReason)
			b = append(b, "\">\n"...)
		}
	}
	for _, m := range [...]struct {
		name string
		urls []string
	}{{"pypi:tracks", p.Tracks}, {"pypi:alternate-locations", p.AlternateLocations}} {
		for _, u := range m.urls {
			b = append(b, "<meta name=\""+m.name+"\" content=\""...)
			b = appendHTML(b, u)
			b = append(b, "\">\n"...)
		}
	}
	b = append(b, "<title>Links for "...)
	b = appendHTML(b, p.Name)
	b = append(b, "</title>\n</head>\n<body>\n<h1>Links for "...)
	b = appendHTML(b, p.Name)
	b = append(b, "</h1>\n"...)
	for i := range p.Files {
		f := &p.Files[i]
		b = append(b, "<a href=\""...)
		b = appendHTML(b, p.URLPrefix)
		b = appendHTML(b, f.URL)
		if f.Hash != nil {
			b = append(b, '#')
			b = append(b, f.HashName...)
			b = append(b, '=')
			b = hex.AppendEncode(b, f.Hash)
		}
		b = append(b, '"')
		if f.RequiresPython != "" {
			b = append(b, " data-requires-python=\""...)
			b = appendHTML(b, f.RequiresPython)
			b = append(b, '"')
		}
		if f.CoreMetadata {
			for _, attr := range [...]string{" data-core-metadata=\"", " data-dist-info-metadata=\""} {
				b = append(b, attr...)
				if f.MetadataHash != nil {
					b = append(b, f.HashName...)
					b = append(b, '=')
					b = hex.AppendEncode(b, f.MetadataHash)
				} else {
					b = append(b, "true"...)
				}
				b = append(b, '"')
			}
		}
		if f.GPGSig {
			b = append(b, " data-gpg-sig=\"true\""...)
		}
		if f.Yanked {
			b = append(b, " data-yanked=\""...)
			b = appendHTML(b, f.YankReason)
			b = append(b, '"')
		}
		if f.Provenance {
			b = append(b, " data-provenance=\""...)
			b = appendHTML(b, p.URLPrefix)
			b = appendHTML(b, f.URL)
			b = append(b, ".provenance\""...)
		}
		b = append(b, '>')
		b = appendHTML(b, f.Filename)
		b = append(b, "</a><br>\n"...)
	}
	return append(b, "</body>\n</html>\n"...)
}

// AppendPageJSON renders a project page as PEP 691 JSON.
func AppendPageJSON(b []byte, p *Page) []byte {
	b = append(b, `{"meta":{"api-version":"`+APIVersion+`"`...)
	if len(p.Tracks) > 0 {
		b = append(b, `,"tracks":`...)
		b = appendJSONStrings(b, p.Tracks)
	}
	b = append(b, `},"name":`...)
	b = appendJSONString(b, p.Name)
	if p.Status != "" {
		b = append(b, `,"project-status":{"status":`...)
		b = appendJSONString(b, p.Status)
		if p.StatusReason != "" {
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, p.StatusReason)
		}
		b = append(b, '}')
	}
	b = append(b, `,"versions":[`...)
	for i, v := range p.Versions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	b = append(b, `],"alternate-locations":`...)
	b = appendJSONStrings(b, p.AlternateLocations)
	b = append(b, `,"files":[`...)
	for i := range p.Files {
		f := &p.Files[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"filename":`...)
		b = appendJSONString(b, f.Filename)
		b = append(b, `,"url":"`...)
		b = appendJSONText(b, p.URLPrefix)
		b = appendJSONText(b, f.URL)
		b = append(b, '"')
		b = append(b, `,"hashes":{`...)
		if f.Hash != nil {
			b = appendJSONString(b, f.HashName)
			b = append(b, ':', '"')
			b = hex.AppendEncode(b, f.Hash)
			b = append(b, '"')
		}
		b = append(b, '}')
		if f.RequiresPython != "" {
			b = append(b, `,"requires-python":`...)
			b = appendJSONString(b, f.RequiresPython)
		}
		if f.CoreMetadata {
			b = append(b, `,"core-metadata":`...)
			start := len(b)
			if f.MetadataHash != nil {
				b = append(b, '{')
				b = appendJSONString(b, f.HashName)
				b = append(b, ':', '"')
				b = hex.AppendEncode(b, f.MetadataHash)
				b = append(b, '"', '}')
			} else {
				b = append(b, "true"...)
			}
			end := len(b)
			b = append(b, `,"dist-info-metadata":`...)
			b = append(b, b[start:end]...)
		} else {
			b = append(b, `,"core-metadata":false`...)
		}
		if f.GPGSig {
			b = append(b, `,"gpg-sig":true`...)
		}
		switch {
		case f.Yanked && f.YankReason != "":
			b = append(b, `,"yanked":`...)
			b = appendJSONString(b, f.YankReason)
		case f.Yanked:
			b = append(b, `,"yanked":true`...)
		default:
			b = append(b, `,"yanked":false`...)
		}
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, f.Size, 10)
		if !f.UploadTime.IsZero() {
			b = append(b, `,"upload-time":"`...)
			b = f.UploadTime.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
			b = append(b, '"')
		}
		if f.Provenance {
			b = append(b, `,"provenance":"`...)
			b = appendJSONText(b, p.URLPrefix)
			b = appendJSONText(b, f.URL)
			b = append(b, `.provenance"`...)
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendJSONStrings appends a JSON array of strings.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// AppendHTML appends s escaped for an HTML attribute value or text.
func AppendHTML(b []byte, s string) []byte { return appendHTML(b, s) }

// appendHTML escapes s for an HTML attribute value or text.
func appendHTML(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, replacing invalid UTF-8.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONText(b, s)
	return append(b, '"')
}

// appendJSONText escapes s for the inside of a JSON string.
func appendJSONText(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
