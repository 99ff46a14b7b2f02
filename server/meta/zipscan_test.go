package meta

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/dist"
)

// wheelWith is a wheel of demo 1.0 whose METADATA is md, after filler
// empty members.
func wheelWith(t testing.TB, filler int, md []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range filler {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%x", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.Create("demo-1.0.dist-info/METADATA")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(md)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var demoWheel = dist.File{Filename: "demo-1.0-py3-none-any.whl", Project: "demo", Version: "1.0", Kind: dist.Wheel}

func pickMetadata(name string) int {
	if strings.HasSuffix(name, ".dist-info/METADATA") {
		return 2
	}
	return 0
}

// TestLimitsAtTheirEdge: an archive exactly at a limit is read, one past
// it refused with ErrLimit naming the limit.
func TestLimitsAtTheirEdge(t *testing.T) {
	md := []byte("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
	z := wheelWith(t, 99, md) // 100 members
	off, cdLen, entries, err := centralDir(bytes.NewReader(z), int64(len(z)))
	if err != nil || entries != 100 || off <= 0 {
		t.Fatalf("centralDir: %d %d %d %v", off, cdLen, entries, err)
	}
	for _, tc := range []struct {
		name string
		lim  Limits
		want string // "" to succeed
	}{
		{"members at the limit", Limits{Members: 100, CentralDir: cdLen}, ""},
		{"one member past it", Limits{Members: 99, CentralDir: cdLen}, "100 members, more than 99"},
		{"central directory one byte past it", Limits{Members: 100, CentralDir: cdLen - 1}, fmt.Sprintf("central directory of %d bytes, more than %d", cdLen, cdLen-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FindMember(bytes.NewReader(z), int64(len(z)), tc.lim, pickMetadata)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b, err := m.Read(bytes.NewReader(z), int64(len(z)), MaxSize); err != nil || !bytes.Equal(b, md) {
					t.Errorf("Read = %q, %v", b, err)
				}
				return
			}
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrLimit saying %s", err, tc.want)
			}
		})
	}
}

// TestEndRecordThatLies: members are counted as they are read, so an end
// record claiming fewer does not pass the limit.
func TestEndRecordThatLies(t *testing.T) {
	z := wheelWith(t, 10, []byte("Name: demo\n"))
	eocd := bytes.LastIndex(z, []byte{0x50, 0x4b, 0x05, 0x06})
	binary.LittleEndian.PutUint16(z[eocd+8:], 3)
	binary.LittleEndian.PutUint16(z[eocd+10:], 3)
	_, err := FindMember(bytes.NewReader(z), int64(len(z)), Limits{Members: 5, CentralDir: 1 << 20}, pickMetadata)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "more than 5 members") {
		t.Errorf("error %v, want ErrLimit", err)
	}
}

// TestMetadataSizeAtItsEdge: METADATA of exactly MaxSize is read, one byte
// more refused, whether the directory admits its size or not.
func TestMetadataSizeAtItsEdge(t *testing.T) {
	at := bytes.Repeat([]byte("x"), MaxSize)
	z := wheelWith(t, 0, at)
	if b, err := Wheel(bytes.NewReader(z), int64(len(z)), demoWheel); err != nil || len(b) != MaxSize {
		t.Errorf("METADATA of MaxSize: %d bytes, %v", len(b), err)
	}
	past := wheelWith(t, 0, append(at, 'x'))
	if _, err := Wheel(bytes.NewReader(past), int64(len(past)), demoWheel); !errors.Is(err, ErrLimit) {
		t.Errorf("METADATA of MaxSize+1: %v, want ErrLimit", err)
	}
	// The same, with the directory understating the size: the bytes are
	// counted as they expand.
	m, err := FindMember(bytes.NewReader(past), int64(len(past)), DefaultLimits, pickMetadata)
	if err != nil {
		t.Fatal(err)
	}
	m.size = 10
	if _, err := m.Read(bytes.NewReader(past), int64(len(past)), MaxSize); !errors.Is(err, ErrLimit) {
		t.Errorf("understated size: %v, want ErrLimit", err)
	}
}

// TestDefaultMembersAtTheEdge builds wheels of exactly DefaultLimits.Members
// members and one more (zip64 archives, past 65535 entries).
func TestDefaultMembersAtTheEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two archives of 200000 members")
	}
	md := []byte("Name: demo\nVersion: 1.0\n")
	z := wheelWith(t, DefaultLimits.Members-1, md)
	if b, err := Wheel(bytes.NewReader(z), int64(len(z)), demoWheel); err != nil || !bytes.Equal(b, md) {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	z = wheelWith(t, DefaultLimits.Members, md)
	if _, err := Wheel(bytes.NewReader(z), int64(len(z)), demoWheel); !errors.Is(err, ErrLimit) {
		t.Errorf("one past the limit: %v, want ErrLimit", err)
	}
}

func TestCorruptMember(t *testing.T) {
	md := []byte("Name: demo\nVersion: 1.0\n")
	// Stored, not compressed, so the member's bytes can be found and one
	// flipped without breaking the compression instead.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "demo-1.0.dist-info/METADATA", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(md)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	z := buf.Bytes()
	i := bytes.Index(z, []byte("Name: demo"))
	if i < 0 {
		t.Fatal("the stored member's bytes are not in the archive")
	}
	z[i] = 'n'
	if _, err := Wheel(bytes.NewReader(z), int64(len(z)), demoWheel); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a flipped byte: %v, want a checksum error", err)
	}
}

// TestIndexRemembers: a second read of one identity does not scan the
// central directory again, and a refusal is remembered too.
func TestIndexRemembers(t *testing.T) {
	md := []byte("Name: demo\nVersion: 1.0\n")
	z := wheelWith(t, 3, md)
	x := NewIndex()
	off, n, _, err := centralDir(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingReader{r: bytes.NewReader(z), from: off, to: off + n}
	for range 2 {
		b, err := x.Metadata(counter, int64(len(z)), "id-1", demoWheel)
		if err != nil || !bytes.Equal(b, md) {
			t.Fatalf("Metadata = %q, %v", b, err)
		}
	}
	if counter.reads != 1 {
		t.Errorf("the central directory was read %d times for two requests, want once", counter.reads)
	}
	x.Metadata(counter, int64(len(z)), "id-2", demoWheel)
	if counter.reads != 2 {
		t.Errorf("another identity did not scan anew")
	}
	// A refusal is remembered as well.
	big := wheelWith(t, 0, bytes.Repeat([]byte("x"), MaxSize+1))
	for range 2 {
		if _, err := x.Metadata(bytes.NewReader(big), int64(len(big)), "id-3", demoWheel); !errors.Is(err, ErrLimit) {
			t.Errorf("oversized METADATA: %v", err)
		}
	}
}

// countingReader counts the reads that start in [from, to).
type countingReader struct {
	r        *bytes.Reader
	from, to int64
	reads    int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.from && off < c.to {
		c.reads++
	}
	return c.r.ReadAt(p, off)
}
