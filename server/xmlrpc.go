package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
)

// maxRPCBody bounds an XML-RPC request: a search is a few hundred bytes.
const maxRPCBody = 64 << 10

// maxRPCDepth bounds how deeply values may nest in a request.
const maxRPCDepth = 8

// serveRPC answers pypiserver's XML-RPC endpoint, which `pip search
// --index URL` calls: the search method, over project names and the
// summaries of their newest files. The XML is read by a parser that takes
// no document type declaration (so no entity is ever defined, let alone
// expanded) and no more than maxRPCBody bytes.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	body, err := readLimited(r.Body, maxRPCBody, "XML-RPC body")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	method, params, err := parseCall(body)
	if err != nil {
		s.fail(w, r, errorf(http.StatusBadRequest, "Malformed XML-RPC request: %s", err))
		return
	}
	if method != "search" {
		writeRPC(w, r, appendFault(nil, 1, fmt.Sprintf("method %q is not supported: this index answers search only", truncate(method, 40))))
		return
	}
	spec, _ := param(params, 0).(map[string]any)
	operator, _ := param(params, 1).(string)
	if spec == nil {
		writeRPC(w, r, appendFault(nil, 2, "search takes a struct of fields to lists of terms, and \"and\" or \"or\""))
		return
	}
	hits, err := s.search(r, spec, strings.ToLower(operator) != "and")
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return
	}
	b := append([]byte(xml.Header), "<methodResponse><params><param><value><array><data>\n"...)
	for _, h := range hits {
		b = append(b, "<value><struct>"...)
		b = appendMember(b, "name", h.name)
		b = appendMember(b, "version", h.version)
		b = appendMember(b, "summary", h.summary)
		b = append(b, "<member><name>_pypi_ordering</name><value><int>0</int></value></member></struct></value>\n"...)
	}
	b = append(b, "</data></array></value></param></params></methodResponse>\n"...)
	writeRPC(w, r, b)
}

type searchHit struct{ name, version, summary string }

// search matches the terms of each field (name, summary) as substrings,
// ignoring case; or: a project matching any term is a hit, and: one
// matching a term of every field given.
func (s *Server) search(r *http.Request, spec map[string]any, or bool) ([]searchHit, error) {
	snap, err := s.store.Snapshot(r.Context())
	if err != nil {
		return nil, err
	}
	terms := map[string][]string{}
	for field, v := range spec {
		if field != "name" && field != "summary" {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		for _, t := range list {
			if t, ok := t.(string); ok && t != "" {
				terms[field] = append(terms[field], strings.ToLower(t))
			}
		}
	}
	var hits []searchHit
	for _, p := range snap.Projects() {
		newest := p.Files[len(p.Files)-1]
		var summary string
		if len(terms["summary"]) > 0 {
			summary = s.summaryOf(newest)
		}
		matched, all := false, true
		for field, ts := range terms {
			hit := false
			for _, t := range ts {
				if field == "name" && strings.Contains(p.Name, dist.Normalize(t)) ||
					field == "summary" && strings.Contains(strings.ToLower(summary), t) {
					hit = true
					break
				}
			}
			matched = matched || hit
			all = all && hit
		}
		if or && matched || !or && all && len(terms) > 0 {
			if summary == "" {
				summary = s.summaryOf(newest)
			}
			hits = append(hits, searchHit{p.Name, p.LatestVersion(), summary})
		}
	}
	return hits, nil
}

func param(params []any, i int) any {
	if i < len(params) {
		return params[i]
	}
	return nil
}

func writeRPC(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func appendMember(b []byte, name, value string) []byte {
	b = append(b, "<member><name>"...)
	b = append(b, name...)
	b = append(b, "</name><value><string>"...)
	b = simple.AppendHTML(b, value)
	return append(b, "</string></value></member>"...)
}

// appendFault appends an XML-RPC fault response.
func appendFault(b []byte, code int, msg string) []byte {
	b = append(b, xml.Header...)
	b = append(b, "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>"...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, "</int></value></member>"...)
	b = appendMember(b, "faultString", msg)
	return append(b, "</struct></value></fault></methodResponse>\n"...)
}

var errUnsafeXML = errors.New("document type declarations are not accepted")

// parseCall reads an XML-RPC methodCall: its method name and parameters as
// strings, integers, booleans, doubles, []any and map[string]any.
func parseCall(body []byte) (string, []any, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.Entity = nil // only XML's own five entities
	p := &rpcParser{d: d}
	root, err := p.element()
	if err != nil {
		return "", nil, err
	}
	if root.Name.Local != "methodCall" {
		return "", nil, fmt.Errorf("want methodCall, not %s", root.Name.Local)
	}
	var method string
	var params []any
	for {
		start, err := p.child()
		if err != nil {
			return "", nil, err
		}
		if start == nil {
			break
		}
		switch start.Name.Local {
		case "methodName":
			if method, err = p.text(); err != nil {
				return "", nil, err
			}
		case "params":
			for {
				ps, err := p.child()
				if err != nil {
					return "", nil, err
				}
				if ps == nil {
					break
				}
				if ps.Name.Local != "param" {
					return "", nil, fmt.Errorf("want param, not %s", ps.Name.Local)
				}
				v, err := p.valueIn(0)
				if err != nil {
					return "", nil, err
				}
				params = append(params, v)
			}
		default:
			return "", nil, fmt.Errorf("unexpected %s", start.Name.Local)
		}
	}
	if method == "" {
		return "", nil, errors.New("no methodName")
	}
	return method, params, nil
}

type rpcParser struct{ d *xml.Decoder }

// token is the next token that is not a comment, processing instruction
// or white space; a directive (<!DOCTYPE ...>) is refused.
func (p *rpcParser) token() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, errors.New("unexpected end")
			}
			return nil, err
		}
		switch t := t.(type) {
		case xml.Directive:
			return nil, errUnsafeXML
		case xml.Comment, xml.ProcInst:
			continue
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
		}
		return t, nil
	}
}

// element reads up to the next start element.
func (p *rpcParser) element() (*xml.StartElement, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	se, ok := t.(xml.StartElement)
	if !ok {
		return nil, errors.New("want an element")
	}
	return &se, nil
}

// child returns the next child element, or nil at the parent's end.
func (p *rpcParser) child() (*xml.StartElement, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case xml.StartElement:
		return &t, nil
	case xml.EndElement:
		return nil, nil
	}
	return nil, errors.New("unexpected text")
}

// text reads an element's text up to its end.
func (p *rpcParser) text() (string, error) {
	var sb strings.Builder
	for {
		t, err := p.d.Token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			return sb.String(), nil
		case xml.Directive:
			return "", errUnsafeXML
		case xml.StartElement:
			return "", fmt.Errorf("unexpected %s in text", t.Name.Local)
		}
	}
}

// valueIn reads <value>...</value> inside the current element and the
// current element's end.
func (p *rpcParser) valueIn(depth int) (any, error) {
	vs, err := p.child()
	if err != nil {
		return nil, err
	}
	if vs == nil || vs.Name.Local != "value" {
		return nil, errors.New("want value")
	}
	v, err := p.value(depth)
	if err != nil {
		return nil, err
	}
	if end, err := p.child(); err != nil || end != nil {
		return nil, errors.New("want one value")
	}
	return v, nil
}

// value reads the inside of a <value> element and its end.
func (p *rpcParser) value(depth int) (any, error) {
	if depth > maxRPCDepth {
		return nil, errors.New("values nested too deeply")
	}
	var sb strings.Builder
	for {
		t, err := p.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t) // a bare <value>text</value> is a string
		case xml.Directive:
			return nil, errUnsafeXML
		case xml.EndElement:
			return sb.String(), nil
		case xml.StartElement:
			v, err := p.typed(t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			if end, err := p.child(); err != nil || end != nil {
				return nil, errors.New("want the end of value")
			}
			return v, nil
		}
	}
}

func (p *rpcParser) typed(kind string, depth int) (any, error) {
	switch kind {
	case "string":
		return p.text()
	case "int", "i4", "i8":
		s, err := p.text()
		if err != nil {
			return nil, err
		}
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	case "boolean":
		s, err := p.text()
		return strings.TrimSpace(s) == "1", err
	case "double":
		s, err := p.text()
		if err != nil {
			return nil, err
		}
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	case "array":
		data, err := p.child()
		if err != nil || data == nil || data.Name.Local != "data" {
			return nil, errors.New("want data in array")
		}
		var list []any
		for {
			vs, err := p.child()
			if err != nil {
				return nil, err
			}
			if vs == nil {
				break
			}
			if vs.Name.Local != "value" {
				return nil, errors.New("want value in data")
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if end, err := p.child(); err != nil || end != nil {
			return nil, errors.New("want the end of array")
		}
		return list, nil
	case "struct":
		m := map[string]any{}
		for {
			ms, err := p.child()
			if err != nil {
				return nil, err
			}
			if ms == nil {
				return m, nil
			}
			if ms.Name.Local != "member" {
				return nil, errors.New("want member in struct")
			}
			ns, err := p.child()
			if err != nil || ns == nil || ns.Name.Local != "name" {
				return nil, errors.New("want name in member")
			}
			name, err := p.text()
			if err != nil {
				return nil, err
			}
			v, err := p.valueIn(depth + 1)
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
	}
	return nil, fmt.Errorf("unknown type %s", kind)
}

// summaryOf is the Summary of f's core metadata, "" when it has none.
func (s *Server) summaryOf(f *store.File) string {
	fields, _ := s.metadataFields(f)
	return fields.Summary
}
