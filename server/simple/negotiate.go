// Package simple renders the Simple Repository API (PEP 503 HTML and PEP 691
// JSON, with the additions of PEPs 592, 629, 658, 700, 714, 740 and 792)
// and chooses between its formats by content negotiation.
package simple

import (
	"errors"
	"strconv"
	"strings"
)

// Format is a representation of the Simple API.
type Format uint8

// The formats served, in the server's order of preference.
const (
	JSON       Format = iota + 1 // application/vnd.pypi.simple.v1+json
	HTMLv1                       // application/vnd.pypi.simple.v1+html
	LegacyHTML                   // text/html
)

// Media types of the formats.
const (
	MediaJSON   = "application/vnd.pypi.simple.v1+json"
	MediaHTML   = "application/vnd.pypi.simple.v1+html"
	MediaLegacy = "text/html"
)

// ContentType returns the Content-Type header value for the format.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return MediaJSON
	case HTMLv1:
		return MediaHTML
	}
	return MediaLegacy + "; charset=utf-8"
}

// IsJSON reports whether the format is JSON.
func (f Format) IsJSON() bool { return f == JSON }

// ErrNotAcceptable means the client accepts none of the formats.
var ErrNotAcceptable = errors.New("none of the accepted media types is served: use " +
	MediaJSON + ", " + MediaHTML + " or " + MediaLegacy)

// Limits on what Negotiate reads, so that a hostile header costs little.
const (
	maxAccept = 8 << 10
	maxRanges = 64
)

// Negotiate picks the format for a request from its Accept header and its
// "format" query parameter, per PEP 691: the parameter, when it names a
// served format, wins; otherwise the highest q-value wins, and among equal
// q-values the more specific range, then JSON over HTML over text/html. A
// missing Accept header means "*/*", and "*/*" gives text/html, as on PyPI,
// so that old clients get the format they understand.
func Negotiate(accept, format string) (Format, error) {
	if format != "" {
		if f, ok := byName(format); ok {
			return f, nil
		}
	}
	accept = strings.TrimSpace(accept)
	if accept == "" {
		return LegacyHTML, nil
	}
	if len(accept) > maxAccept {
		return 0, ErrNotAcceptable
	}
	// best q-value and specificity seen for each format
	var q [4]int
	var spec [4]int
	for i := range q {
		q[i] = -1
	}
	n := 0
	for part := range strings.SplitSeq(accept, ",") {
		if n++; n > maxRanges {
			break
		}
		media, weight, ok := parseRange(part)
		if !ok {
			continue
		}
		for _, f := range []Format{JSON, HTMLv1, LegacyHTML} {
			s := matches(media, f)
			if s == 0 {
				continue
			}
			if s > spec[f] || s == spec[f] && weight > q[f] {
				spec[f], q[f] = s, weight
			}
		}
	}
	// Among exact types JSON wins a tie; a client that only said "*/*" is
	// more likely an old one that knows nothing but text/html, so there the
	// later, plainer format wins.
	best, bestQ, bestSpec := Format(0), 0, 0
	for _, f := range []Format{JSON, HTMLv1, LegacyHTML} {
		if q[f] <= 0 {
			continue
		}
		tie := q[f] == bestQ && spec[f] == bestSpec
		if q[f] > bestQ || q[f] == bestQ && spec[f] > bestSpec || tie && spec[f] == 1 {
			best, bestQ, bestSpec = f, q[f], spec[f]
		}
	}
	if best == 0 {
		return 0, ErrNotAcceptable
	}
	return best, nil
}

func byName(s string) (Format, bool) {
	// An unescaped '+' in a query string arrives as a space.
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "+") {
	case MediaJSON, "application/vnd.pypi.simple.latest+json", "json":
		return JSON, true
	case MediaHTML, "application/vnd.pypi.simple.latest+html", "html":
		return HTMLv1, true
	case MediaLegacy:
		return LegacyHTML, true
	}
	return 0, false
}

// parseRange splits "type/subtype;q=0.5;x=y" into the media range and its
// q-value in thousandths.
func parseRange(part string) (string, int, bool) {
	media, params, _ := strings.Cut(part, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	if media == "" || !strings.Contains(media, "/") {
		return "", 0, false
	}
	weight := 1000
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		w, ok := parseQ(strings.TrimSpace(v))
		if !ok {
			return "", 0, false
		}
		weight = w
	}
	return media, weight, true
}

// parseQ reads an RFC 9110 qvalue ("0", "0.5", "1.000") as thousandths.
func parseQ(v string) (int, bool) {
	if v == "" || len(v) > 5 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, false
	}
	return int(f*1000 + 0.5), true
}

// matches returns how specifically media names format f: 3 for the exact
// type (or its "latest" alias), 2 for type/*, 1 for */*, 0 for no match.
func matches(media string, f Format) int {
	switch media {
	case "*/*":
		return 1
	case "application/*":
		if f != LegacyHTML {
			return 2
		}
	case "text/*":
		if f == LegacyHTML {
			return 2
		}
	default:
		if g, ok := byName(media); ok && g == f && media != "json" && media != "html" {
			return 3
		}
	}
	return 0
}
