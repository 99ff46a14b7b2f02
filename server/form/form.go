// Package form reads multipart/form-data request bodies (RFC 7578) as a
// stream of parts. A part's bytes are read from the body straight into the
// caller's buffer, and the delimiter that ends the part is looked for
// there, so a large file passes through memory once on its way in.
package form

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"sync"
)

// ErrMalformed is wrapped by every error about a body that is not a
// well-formed multipart/form-data body. A body that ends before its close
// delimiter gives io.ErrUnexpectedEOF instead, one whose reads keep giving
// nothing io.ErrNoProgress; an error reading the body is returned as it
// came.
var ErrMalformed = errors.New("malformed multipart body")

const (
	// bufSize is the size of the reader's own buffer: the most a read
	// from the body asks for, with room for a part's header block.
	bufSize = 64 << 10
	// maxHeader is the largest header block a part may have.
	maxHeader = 16 << 10
	// directMin is the smallest read of a part that goes straight to the
	// caller's buffer; smaller ones are served from the reader's own.
	directMin = 4 << 10
	// maxEmptyReads is how many reads in a row may return nothing before
	// the body is taken to be stuck.
	maxEmptyReads = 100
	// maxPadding is the most blanks after a delimiter's boundary that it
	// may have (RFC 2046 allows any; clients send none). More, and the
	// text was a part's bytes: the bytes that tell whether a delimiter is
	// one are few, and a trickling client cannot make each read rescan
	// a long run of them.
	maxPadding = 1 << 10
)

// Reader reads the parts of one body, in order.
type Reader struct {
	src    io.Reader
	delim  []byte // CRLF "--" boundary: ends every part
	buf    []byte
	pooled *[]byte // buf's, to give back
	r, w   int     // buf[r:w] is read from src and not yet consumed
	err    error   // what src returned with its last bytes (io.EOF at the end)
	empty  int     // reads in a row that returned nothing
	fail   error   // the form's first error, returned by every later call
	part   *Part   // the part being read
	begun  bool    // the preamble is behind
	done   bool    // the close delimiter was read
}

// NewReader returns a Reader of body, whose parts are delimited by
// boundary (the Content-Type's parameter).
func NewReader(body io.Reader, boundary string) (*Reader, error) {
	// RFC 2046 allows 1 to 70 characters, none of them a line end; a
	// carriage return in the delimiter only at its start is what lets
	// scan find a delimiter's possible start by looking at one byte.
	if boundary == "" || len(boundary) > 70 || strings.ContainsAny(boundary, "\r\n") {
		return nil, fmt.Errorf("%w: the boundary must be 1 to 70 characters, without line ends", ErrMalformed)
	}
	pooled := bufs.Get().(*[]byte)
	r := &Reader{src: body, delim: []byte("\r\n--" + boundary), buf: *pooled, pooled: pooled}
	// The first delimiter may open the body, without the line end that
	// comes before every other; with one assumed, every delimiter is alike.
	r.w = copy(r.buf, "\r\n")
	return r, nil
}

// Release gives the reader's buffer back for another form to use. The
// reader and its parts must not be used after.
func (r *Reader) Release() {
	if r.pooled == nil {
		return
	}
	bufs.Put(r.pooled)
	r.buf, r.pooled = nil, nil
	r.fail = errors.New("form reader used after Release")
}

// bufs are the readers' buffers: every upload has one, and without them
// back, ten uploads a second would leave 640 KiB a second for the
// collector.
var bufs = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Part is one part of a form. Its bytes are read with Read, until io.EOF
// at the delimiter that ends it.
type Part struct {
	// Header holds the part's header fields.
	Header textproto.MIMEHeader
	// Name is the form field the part is the value of.
	Name string
	// FileName is the file name the client gave, as it gave it (with any
	// directories in it), or "" when the part is not a file.
	FileName string

	fr   *Reader
	done bool
}

// NextPart returns the next part of the form, skipping whatever of the
// current one was not read; io.EOF after the last. After an error, the
// form cannot be read further: every call returns that error.
func (r *Reader) NextPart() (*Part, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	p, err := r.nextPart()
	if err != nil && err != io.EOF {
		r.fail = err
	}
	return p, err
}

func (r *Reader) nextPart() (*Part, error) {
	if r.part != nil {
		if err := r.part.drain(); err != nil {
			return nil, err
		}
		r.part = nil
	}
	if r.done {
		return nil, io.EOF
	}
	if !r.begun {
		// The preamble is read like a part's bytes, and dropped. A body
		// with no delimiter at all is most likely one whose lines end in
		// a bare LF, which no client sends and this reader does not take.
		if err := (&Part{fr: r}).drain(); err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: no boundary line ending in CRLF", ErrMalformed)
		} else if err != nil {
			return nil, err
		}
		r.begun = true
	}
	// A part's end was found: buf[r.r:] starts with the delimiter and
	// holds the rest of its line, which scan has checked.
	rest := r.buf[r.r+len(r.delim) : r.w]
	if bytes.HasPrefix(rest, []byte("--")) {
		r.done = true
		return nil, io.EOF
	}
	r.r += len(r.delim) + bytes.Index(rest, []byte("\r\n")) + 2
	hdr, err := r.header()
	if err != nil {
		return nil, err
	}
	p := &Part{Header: hdr, fr: r}
	disp, params, err := mime.ParseMediaType(hdr.Get("Content-Disposition"))
	name, named := params["name"]
	if err != nil || disp != "form-data" || !named {
		return nil, fmt.Errorf("%w: a part without a form-data Content-Disposition and a name", ErrMalformed)
	}
	p.Name, p.FileName = name, params["filename"]
	r.part = p
	return p, nil
}

// header reads a part's header block, up to the empty line that ends it.
func (r *Reader) header() (textproto.MIMEHeader, error) {
	hdr := textproto.MIMEHeader{}
	var last string
	for size := 0; ; {
		line, err := r.line(maxHeader - size)
		if err != nil {
			return nil, err
		}
		size += len(line) + 2
		if len(line) == 0 {
			return hdr, nil
		}
		if bytes.ContainsAny(line, "\r\n") {
			// A bare line end, which some parsers take as a line's end
			// and some do not: refused, as a part's bytes depend on it.
			return nil, fmt.Errorf("%w: a bare CR or LF in a part's header", ErrMalformed)
		}
		if line[0] == ' ' || line[0] == '\t' {
			// An obsolete folded line continues the previous field.
			if last == "" {
				return nil, fmt.Errorf("%w: a part's header starts with a continuation line", ErrMalformed)
			}
			vs := hdr[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(string(line))
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: bad header line in a part", ErrMalformed)
		}
		last = textproto.CanonicalMIMEHeaderKey(string(k))
		hdr[last] = append(hdr[last], strings.TrimSpace(string(v)))
	}
}

// line returns the next line of the buffer, without its CRLF, reading
// more of the body as needed; a line longer than limit is refused.
func (r *Reader) line(limit int) ([]byte, error) {
	// The search resumes where it stopped, so a header trickled a byte at
	// a time is not searched again from its start after every read.
	for from := 0; ; {
		if i := bytes.Index(r.buf[r.r+from:r.w], []byte("\r\n")); i >= 0 {
			i += from
			if i+2 > limit {
				break
			}
			line := r.buf[r.r : r.r+i]
			r.r += i + 2
			return line, nil
		}
		if r.w-r.r >= limit {
			break
		}
		from = max(0, r.w-r.r-1)
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: a part's header is over %d bytes", ErrMalformed, maxHeader)
}

// fill reads more of the body into the buffer, after what is unread. It
// fails with what the body last returned, or when the buffer is full.
func (r *Reader) fill() error {
	if r.err != nil {
		return r.bodyErr()
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		return fmt.Errorf("%w: a boundary line over %d bytes", ErrMalformed, len(r.buf))
	}
	n, err := r.src.Read(r.buf[r.w:])
	r.w += n
	r.took(n, err)
	return nil
}

// took notes the outcome of a read from the body.
func (r *Reader) took(n int, err error) {
	if err != nil {
		r.err = err
		return
	}
	if n > 0 {
		r.empty = 0
	} else if r.empty++; r.empty >= maxEmptyReads {
		r.err = io.ErrNoProgress
	}
}

// bodyErr is the error for a body that ended, or failed, before the
// delimiter wanted.
func (r *Reader) bodyErr() error {
	if r.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return r.err
}

// Read reads the part's bytes into b; io.EOF at the delimiter that ends it.
// A failure to read the body ends the part too: bytes that might have
// begun a delimiter are then given as the part's before the error.
func (p *Part) Read(b []byte) (int, error) {
	r := p.fr
	if r.fail != nil {
		return 0, r.fail
	}
	n, err := p.read(b)
	if err != nil && err != io.EOF {
		r.fail = err
	}
	return n, err
}

func (p *Part) read(b []byte) (int, error) {
	if p.done {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	r := p.fr
	for {
		if r.r == r.w && r.err == nil && len(b) >= directMin {
			// Nothing buffered: the body is read into b, and what is not
			// the part's (or may not be) goes to the buffer.
			n, err := r.src.Read(b[:min(len(b), len(r.buf))])
			r.took(n, err)
			k, end := r.scan(b[:n], r.err != nil)
			r.r, r.w = 0, copy(r.buf, b[k:n])
			p.done = end
			if k > 0 {
				return k, nil
			}
			if end {
				return 0, io.EOF
			}
			continue
		}
		if r.r < r.w {
			// A delimiter that starts within b's reach lies whole in
			// the bytes scanned first, so small reads do not scan the
			// whole buffer each time; only one that starts right here
			// needs the bytes after it.
			w := min(r.w, r.r+len(b)+len(r.delim)-1)
			k, end := r.scan(r.buf[r.r:w], r.err != nil && w == r.w)
			if k == 0 && !end && w < r.w {
				k, end = r.scan(r.buf[r.r:r.w], r.err != nil)
			}
			if k > 0 {
				c := copy(b, r.buf[r.r:r.r+k])
				r.r += c
				p.done = end && c == k
				return c, nil
			}
			if end {
				p.done = true
				return 0, io.EOF
			}
		}
		// Nothing here is surely the part's: more of the body decides.
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
}

// drain reads the rest of the part and drops it, in the reader's buffer.
func (p *Part) drain() error {
	r := p.fr
	for !p.done {
		if r.r < r.w {
			k, end := r.scan(r.buf[r.r:r.w], r.err != nil)
			r.r += k
			p.done = end
			if k > 0 || end {
				continue
			}
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
	return nil
}

// scan finds where a part's bytes end in b, which follows every byte
// consumed: b[:n] are surely the part's, and end says the delimiter starts
// b[n:]. Without end, b[n:] may start a delimiter that the bytes after b
// decide; at eof, there are none.
func (r *Reader) scan(b []byte, eof bool) (n int, end bool) {
	for from := 0; ; {
		i := bytes.Index(b[from:], r.delim)
		if i < 0 {
			break
		}
		i += from
		switch closes(b[i+len(r.delim):], eof) {
		case yes:
			return i, true
		case unsure:
			return i, false
		}
		from = i + 1
	}
	if !eof {
		// The carriage return is the delimiter's only one, so only the
		// last one in b can start a delimiter cut by b's end.
		tail := max(0, len(b)-len(r.delim)+1)
		if j := bytes.LastIndexByte(b[tail:], '\r'); j >= 0 && bytes.HasPrefix(r.delim, b[tail+j:]) {
			return tail + j, false
		}
	}
	return len(b), false
}

type verdict int

const (
	no verdict = iota
	yes
	unsure
)

// closes says whether the bytes after a delimiter's text make it one: the
// close delimiter's "--", or optional blanks and a line end (RFC 2046 5.1.1).
// Anything else means the text was the part's bytes.
func closes(rest []byte, eof bool) verdict {
	more := unsure
	if eof {
		more = no
	}
	if len(rest) > 0 && rest[0] == '-' {
		switch {
		case len(rest) == 1:
			return more
		case rest[1] == '-':
			return yes
		}
		return no
	}
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	switch {
	case i > maxPadding:
		return no
	case i == len(rest):
		return more
	case rest[i] != '\r':
		return no
	case i+1 == len(rest):
		return more
	case rest[i+1] == '\n':
		return yes
	}
	return no
}
