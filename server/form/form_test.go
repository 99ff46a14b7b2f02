package form

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
	"testing/iotest"
)

// field is one part of a form, as written and as it should be read back.
type field struct {
	name, filename, value string
}

// encode writes the fields with the standard library's writer, the
// reference encoder here.
func encode(t testing.TB, boundary string, fields []field) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		var w io.Writer
		var err error
		if f.filename != "" {
			w, err = mw.CreateFormFile(f.name, f.filename)
		} else {
			w, err = mw.CreateFormField(f.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.value)
	}
	mw.Close()
	return buf.Bytes()
}

// readAll reads every part of body, each with reads of size n.
func readAll(body io.Reader, boundary string, n int) ([]field, error) {
	r, err := NewReader(body, boundary)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var out []field
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var v bytes.Buffer
		b := make([]byte, n)
		for {
			m, err := p.Read(b)
			v.Write(b[:m])
			if err == io.EOF {
				break
			}
			if err != nil {
				return out, err
			}
		}
		out = append(out, field{p.Name, p.FileName, v.String()})
	}
}

// readers cut a body into reads of different sizes.
var readers = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"halves":   iotest.HalfReader,
	"data+EOF": iotest.DataErrReader,
	"random":   func(r io.Reader) io.Reader { return &randomReader{r: r, rng: rand.New(rand.NewPCG(1, 2))} },
}

// randomReader returns reads of random sizes, some of them empty.
type randomReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (r *randomReader) Read(p []byte) (int, error) {
	switch r.rng.IntN(4) {
	case 0:
		return 0, nil
	case 1:
		p = p[:min(len(p), 1+r.rng.IntN(8))]
	case 2:
		p = p[:min(len(p), 1+r.rng.IntN(70000))]
	}
	return r.r.Read(p)
}

const boundary = "b0und4ry"

// nearMisses are part contents that look like a delimiter and are not one.
var nearMisses = []string{
	"",
	"\r",
	"\r\n",
	"\r\n-",
	"\r\n--",
	"\r\n--" + boundary[:4],
	"\r\n--" + boundary + "x",
	"\r\n--" + boundary + "-x",
	"\r\n--" + boundary + " \tx\r\n",
	"\r\n--" + boundary + "\rx",
	"\n--" + boundary + "\r\n",
	"--" + boundary + "\r\n",
	"\r\r\n--" + boundary + "x\r",
	"text\r\n--" + boundary + "\n",
	"ends with a CR\r",
	"ends with a delimiter's start\r\n--" + boundary[:5],
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(rng.IntN(256))
	}
	forms := map[string][]field{
		"no parts": nil,
		"twine": {
			{":action", "", "file_upload"}, {"name", "", "demo"}, {"version", "", "1.0"},
			{"content", "demo-1.0-py3-none-any.whl", string(big)}, {"sha256_digest", "", "00ff"},
		},
		"empty values": {{"a", "", ""}, {"b", "b.txt", ""}, {"c", "", ""}},
		"repeated":     {{"classifiers", "", "A"}, {"classifiers", "", "B"}},
	}
	for i, m := range nearMisses {
		forms[fmt.Sprintf("near miss %d", i)] = []field{{"x", "", m}, {"content", "f.whl", m + string(big[:70000]) + m}, {"y", "", m}}
	}
	for name, fields := range forms {
		body := encode(t, boundary, fields)
		for rname, wrap := range readers {
			for _, n := range []int{1, 7, directMin, 64 << 10, 200 << 10} {
				got, err := readAll(wrap(bytes.NewReader(body)), boundary, n)
				if err != nil {
					t.Fatalf("%s, %s reads of %d: %v", name, rname, n, err)
				}
				if !equal(got, fields) {
					t.Fatalf("%s, %s reads of %d: got %s, want %s", name, rname, n, show(got), show(fields))
				}
			}
		}
	}
}

func TestPreambleAndPadding(t *testing.T) {
	body := "preamble, ignored\r\n--" + boundary + " \t\r\n" +
		"Content-Disposition: form-data; name=\"a\"\r\n" +
		"X-Folded: one\r\n two\r\n\r\n" +
		"1\r\n--" + boundary + "\t\r\n" +
		"content-disposition: form-data; name=\"f\"; filename=\"../x.whl\"\r\n\r\n" +
		"2\r\n--" + boundary + "--  \r\nepilogue, ignored"
	r, err := NewReader(strings.NewReader(body), boundary)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Header.Get("X-Folded"); got != "one two" {
		t.Errorf("folded header: %q", got)
	}
	// The first part is left unread: NextPart skips it.
	if p, err = r.NextPart(); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(p); err != nil || string(b) != "2" || p.FileName != "../x.whl" || p.Name != "f" {
		t.Errorf("second part: %q %v, name %q file %q", b, err, p.Name, p.FileName)
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("after the close delimiter: %v, want EOF", err)
	}
}

func TestMalformed(t *testing.T) {
	good := string(encode(t, boundary, []field{{"a", "", "1"}, {"content", "f.whl", "data"}}))
	part := "--" + boundary + "\r\n"
	for _, tc := range []struct {
		name, body string
		want       error
	}{
		{"empty", "", ErrMalformed},
		{"no delimiter", "just text", ErrMalformed},
		{"no close delimiter", good[:strings.LastIndex(good, "--")], io.ErrUnexpectedEOF},
		{"no content disposition", part + "Content-Type: text/plain\r\n\r\nx\r\n--" + boundary + "--", ErrMalformed},
		{"not form-data", part + "Content-Disposition: attachment; name=a\r\n\r\nx\r\n--" + boundary + "--", ErrMalformed},
		{"no name", part + "Content-Disposition: form-data\r\n\r\nx\r\n--" + boundary + "--", ErrMalformed},
		{"bad header line", part + "Content-Disposition form-data\r\n\r\nx\r\n--" + boundary + "--", ErrMalformed},
		{"continuation first", part + " x\r\n\r\nx\r\n--" + boundary + "--", ErrMalformed},
		{"header too large", part + "Content-Disposition: form-data; name=a\r\nX: " + strings.Repeat("x", maxHeader) + "\r\n\r\n", ErrMalformed},
		{"many headers", part + strings.Repeat("X: y\r\n", maxHeader/6+1) + "\r\n", ErrMalformed},
		// Past the limit, padding makes the text a part's bytes, and the
		// part has no end.
		{"endless padding", part + "Content-Disposition: form-data; name=a\r\n\r\nx\r\n--" + boundary + strings.Repeat(" ", 2*bufSize) + "\r\n", io.ErrUnexpectedEOF},
		{"padding past the limit", part + "Content-Disposition: form-data; name=a\r\n\r\nx\r\n--" + boundary + strings.Repeat(" ", maxPadding+1) + "\r\n", io.ErrUnexpectedEOF},
		{"bare LF lines", strings.ReplaceAll(good, "\r\n", "\n"), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for rname, wrap := range readers {
				_, err := readAll(wrap(strings.NewReader(tc.body)), boundary, 4096)
				if !errors.Is(err, tc.want) {
					t.Errorf("%s reads: %v, want %v", rname, err, tc.want)
				}
			}
		})
	}
}

func TestPaddingAtTheLimit(t *testing.T) {
	pad := strings.Repeat(" \t", maxPadding/2)
	body := "--" + boundary + pad + "\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--" + boundary + pad + "\r\n" +
		"Content-Disposition: form-data; name=b\r\n\r\ny\r\n--" + boundary + "--"
	want := []field{{"a", "", "x"}, {"b", "", "y"}}
	for rname, wrap := range readers {
		for _, n := range []int{1, 100, directMin} {
			got, err := readAll(wrap(strings.NewReader(body)), boundary, n)
			if err != nil || !equal(got, want) {
				t.Errorf("%s, reads of %d: %s, %v", rname, n, show(got), err)
			}
		}
	}
}

// TestErrorsStick reads on after an error: every call returns it again,
// and nothing after the error is taken for a part, not even what looks
// like one inside the part refused.
func TestErrorsStick(t *testing.T) {
	for _, body := range []string{
		"--" + boundary + "\r\nContent-Disposition: attachment\r\n\r\n--" + boundary + "--",
		"--" + boundary + "\r\nContent-Disposition: attachment\r\n\r\n123456789junk\r\n" +
			"Content-Disposition: form-data; name=evil\r\n\r\nsmuggled\r\n--" + boundary + "--",
	} {
		r, err := NewReader(strings.NewReader(body), boundary)
		if err != nil {
			t.Fatal(err)
		}
		_, first := r.NextPart()
		if !errors.Is(first, ErrMalformed) {
			t.Fatalf("%q: %v, want %v", body, first, ErrMalformed)
		}
		for range 3 {
			if p, err := r.NextPart(); err != first {
				t.Fatalf("%q: then %v (part %v), want the same error", body, err, p)
			}
		}
	}
	// An error while a part is read sticks too.
	body := encode(t, boundary, []field{{"content", "f.whl", strings.Repeat("x", 10<<10)}})
	boom := errors.New("boom")
	r, _ := NewReader(io.MultiReader(bytes.NewReader(body[:5<<10]), iotest.ErrReader(boom)), boundary)
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(p); err != boom {
		t.Fatalf("reading the part: %v", err)
	}
	if n, err := p.Read(make([]byte, 10)); n != 0 || err != boom {
		t.Errorf("reading again: %d, %v", n, err)
	}
	if _, err := r.NextPart(); err != boom {
		t.Errorf("next part: %v", err)
	}
}

// TestTruncated cuts a valid body at every length before its close
// delimiter's end (the line end after it is not needed): no cut reads as a
// whole form, and none gives a part bytes that were not in it.
func TestTruncated(t *testing.T) {
	fields := []field{{"a", "", "1"}, {"content", "f.whl", "da\r\nta\r\n--" + boundary + "x"}, {"b", "", ""}}
	body := encode(t, boundary, fields)
	for n := range len(body) - 2 {
		got, err := readAll(bytes.NewReader(body[:n]), boundary, 3)
		if err == nil {
			t.Fatalf("a body cut at %d of %d was read whole: %s", n, len(body), show(got))
		}
		for i, f := range got {
			if f != fields[i] {
				t.Fatalf("cut at %d: part %d read as %q, want %q", n, i, f, fields[i])
			}
		}
	}
}

// TestBodyError passes on what the body's reader fails with.
func TestBodyError(t *testing.T) {
	boom := errors.New("boom")
	body := encode(t, boundary, []field{{"content", "f.whl", strings.Repeat("x", 100<<10)}})
	r := io.MultiReader(bytes.NewReader(body[:50<<10]), iotest.ErrReader(boom))
	if _, err := readAll(r, boundary, 64<<10); !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
	if _, err := readAll(iotest.ErrReader(boom), boundary, 10); !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
	stuck := readerFunc(func([]byte) (int, error) { return 0, nil })
	if _, err := readAll(stuck, boundary, 10); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a body that never gives bytes: %v", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestRelease(t *testing.T) {
	body := encode(t, boundary, []field{{"a", "", "1"}, {"b", "", "2"}})
	r, _ := NewReader(bytes.NewReader(body), boundary)
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	r.Release()
	if _, err := p.Read(make([]byte, 10)); err == nil {
		t.Error("a part read after Release")
	}
	if _, err := r.NextPart(); err == nil || err == io.EOF {
		t.Errorf("NextPart after Release: %v", err)
	}
}

func TestBoundary(t *testing.T) {
	for _, b := range []string{"", strings.Repeat("x", 71), "a\rb", "a\nb"} {
		if _, err := NewReader(strings.NewReader(""), b); !errors.Is(err, ErrMalformed) {
			t.Errorf("boundary %q: %v", b, err)
		}
	}
	if _, err := NewReader(strings.NewReader(""), strings.Repeat("x", 70)); err != nil {
		t.Errorf("a 70-character boundary: %v", err)
	}
}

// FuzzReader reads arbitrary bodies whole and in random pieces, which must
// come to the same, and with the standard library's parser. Where both
// parsers read a body whole, they must read the same parts, except where
// the standard library is more lenient than RFC 2046 (see stdRead).
func FuzzReader(f *testing.F) {
	for _, m := range nearMisses {
		f.Add(boundary, encode(f, boundary, []field{{"a", "", m}, {"content", "f.whl", m + "x" + m}}), uint8(3))
	}
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--x--"), uint8(1))
	f.Fuzz(func(t *testing.T, boundary string, body []byte, n uint8) {
		got, err := readAll(bytes.NewReader(body), boundary, 64<<10)
		// However the body and the reads are cut, it reads the same.
		split := &randomReader{r: bytes.NewReader(body), rng: rand.New(rand.NewPCG(uint64(n), 1))}
		again, errAgain := readAll(split, boundary, int(n)+1)
		if (err == nil) != (errAgain == nil) || (err == nil && !equal(got, again)) {
			t.Fatalf("read whole: %s, %v; in pieces: %s, %v", show(got), err, show(again), errAgain)
		}
		if err != nil {
			return
		}
		for _, p := range got {
			if !bytes.Contains(body, []byte(p.value)) {
				t.Fatalf("part %s: bytes that are not in the body", p.name)
			}
		}
		if want, ok := stdRead(body, boundary); ok && !equal(got, want) {
			t.Fatalf("read %s, the standard library read %s", show(got), show(want))
		}
	})
}

// FuzzEncoded writes forms of arbitrary fields with the standard library's
// writer, and reads them back in reads of arbitrary sizes. Every form the
// standard library reads back as written, this package must too.
func FuzzEncoded(f *testing.F) {
	for i, m := range nearMisses {
		f.Add(boundary, "content", "f.whl", m, m+"x", uint64(i))
	}
	f.Fuzz(func(t *testing.T, boundary, name, filename, a, b string, seed uint64) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if mw.SetBoundary(boundary) != nil {
			return
		}
		fields := []field{{name, "", a}, {name, filename, b}, {"last", "", a + b}}
		body := encode(t, boundary, fields)
		if want, ok := stdParse(body, boundary); !ok || !equal(want, fields) {
			return // not a valid encoding of these fields: a value holds the delimiter
		}
		rng := rand.New(rand.NewPCG(seed, seed))
		got, err := readAll(&randomReader{r: bytes.NewReader(body), rng: rng}, boundary, 1+rng.IntN(100000))
		if err != nil || !equal(got, fields) {
			t.Fatalf("read %s (%v), want %s", show(got), err, show(fields))
		}
	})
}

// stdRead reads body with mime/multipart; ok only if it reads it whole.
// Bodies where the standard library is more lenient than RFC 2046 are not
// compared: with a preamble (it finds a delimiter after a bare LF), with a
// delimiter line ending in a bare LF (it then takes every bare LF as a
// line end), and with a delimiter right after a blank line (it takes
// that for the end of an empty part, the delimiter's own CRLF missing).
func stdRead(body []byte, boundary string) ([]field, bool) {
	dash := []byte("--" + boundary)
	// The body must open with a delimiter line that both read as one: the
	// boundary, spaces or tabs, CRLF. Otherwise the first line is preamble,
	// where the standard library also takes a delimiter after a bare LF.
	first, _, _ := bytes.Cut(body, []byte("\n"))
	if !bytes.HasPrefix(body, dash) || !bytes.Equal(bytes.TrimLeft(first[len(dash):], " \t"), []byte("\r")) {
		return nil, false
	}
	// A blank line right before a delimiter's text, and not after a line
	// end of its own: the end of a header block with the delimiter's CRLF
	// missing. (An empty value has both: "\r\n\r\n\r\n--".)
	blank := append([]byte("\r\n\r\n"), dash...)
	for i := 0; ; i++ {
		j := bytes.Index(body[i:], blank)
		if j < 0 {
			break
		}
		i += j
		if i == 0 || body[i-1] != '\n' {
			return nil, false
		}
	}
	for rest := body; ; {
		i := bytes.Index(rest, dash)
		if i < 0 {
			break
		}
		rest = rest[i+len(dash):]
		if after := bytes.TrimLeft(rest, " \t"); len(after) > 0 && after[0] == '\n' {
			return nil, false
		}
	}
	return stdParse(body, boundary)
}

// stdParse reads body with mime/multipart; ok only if it reads it whole.
func stdParse(body []byte, boundary string) ([]field, bool) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []field
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, false
		}
		out = append(out, field{p.FormName(), fileName(p), string(b)})
	}
}

func fileName(p *multipart.Part) string {
	if p.FileName() == "" {
		return ""
	}
	// FileName drops directories; the raw parameter is what is compared.
	_, params, _ := mimeParse(p.Header.Get("Content-Disposition"))
	return params["filename"]
}

func equal(a, b []field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func show(fs []field) string {
	var s []string
	for _, f := range fs {
		v := f.value
		if len(v) > 40 {
			v = fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
		} else {
			v = fmt.Sprintf("%q", v)
		}
		s = append(s, fmt.Sprintf("{%s %q %s}", f.name, f.filename, v))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// BenchmarkRead reads a 32 MiB file part of random bytes with 64 KiB reads,
// with this package and with the standard library's parser.
func BenchmarkRead(b *testing.B) {
	data := make([]byte, 32<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	body := encode(b, "4c1f9e0a7b3d2e6f58a9c0b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9", []field{{"content", "big.whl", string(data)}})
	buf := make([]byte, 64<<10)
	b.Run("form", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, _ := NewReader(bytes.NewReader(body), "4c1f9e0a7b3d2e6f58a9c0b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9")
			p, err := r.NextPart()
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.CopyBuffer(io.Discard, onlyReader{p}, buf); err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
			r.Release()
		}
	})
	b.Run("mime-multipart", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			mr := multipart.NewReader(bytes.NewReader(body), "4c1f9e0a7b3d2e6f58a9c0b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9")
			p, err := mr.NextRawPart()
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.CopyBuffer(io.Discard, onlyReader{p}, buf); err != nil || n != int64(len(data)) {
				b.Fatal(n, err)
			}
		}
	})
}

// BenchmarkSmallReads reads a 1 MiB part a byte at a time, as a caller
// with a small buffer does: each read scans only what decides its byte,
// not the whole buffer.
func BenchmarkSmallReads(b *testing.B) {
	body := encode(b, boundary, []field{{"a", "", strings.Repeat("x\r", 512<<10)}})
	b.SetBytes(1 << 20)
	for b.Loop() {
		got, err := readAll(bytes.NewReader(body), boundary, 1)
		if err != nil || len(got) != 1 || len(got[0].value) != 1<<20 {
			b.Fatalf("%s, %v", show(got), err)
		}
	}
}

// onlyReader hides any WriteTo, so the copy reads into the buffer given.
type onlyReader struct{ io.Reader }

var mimeParse = mime.ParseMediaType
