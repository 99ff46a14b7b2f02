package meta

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
)

// Limits bound what reading one member of a zip archive may cost. The
// central directory is read in pieces, never held whole, so memory does not
// grow with it; the limits bound the time a scan takes, and refuse archives
// no build tool makes.
type Limits struct {
	// Members is the most entries a central directory may list.
	Members int
	// CentralDir is the largest central directory, in bytes.
	CentralDir int64
}

// DefaultLimits are well above the largest wheels published (tens of
// thousands of members, central directories of a few MiB).
var DefaultLimits = Limits{Members: 200_000, CentralDir: 64 << 20}

// ErrLimit means an archive is beyond Limits, or its metadata beyond
// MaxSize: the index does not read it.
var ErrLimit = errors.New("archive beyond the index's limits")

// errFormat marks an archive that is not a zip as its name says: its
// contents decide that, so it is remembered like a refusal.
var errFormat = errors.New("zip")

// Member is where one member of a zip archive lies and how it is stored:
// what reading it again needs, without the central directory.
type Member struct {
	Name     string
	offset   int64 // of its local header
	method   uint16
	crc      uint32
	compSize int64
	size     int64
}

// zip record signatures and fixed lengths (APPNOTE.TXT 4.3).
const (
	sigEOCD      = 0x06054b50
	sigEOCD64    = 0x06064b50
	sigLocator64 = 0x07064b50
	sigCentral   = 0x02014b50
	sigLocal     = 0x04034b50
	lenEOCD      = 22
	lenLocator64 = 20
	lenEOCD64    = 56
	lenCentral   = 46
	lenLocal     = 30
)

// centralDir finds the central directory: its offset, size and the number
// of entries it claims, from the end records.
func centralDir(r io.ReaderAt, size int64) (offset, length, entries int64, err error) {
	tail := min(size, lenEOCD+0xffff)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, 0, 0, err
	}
	at := -1
	for i := len(buf) - lenEOCD; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == sigEOCD {
			at = i
			break
		}
	}
	if at < 0 {
		return 0, 0, 0, fmt.Errorf("%w: no end of central directory", errFormat)
	}
	e := buf[at:]
	entries = int64(binary.LittleEndian.Uint16(e[10:]))
	length = int64(binary.LittleEndian.Uint32(e[12:]))
	offset = int64(binary.LittleEndian.Uint32(e[16:]))
	eocdAt := size - tail + int64(at)
	if entries == 0xffff || length == 0xffffffff || offset == 0xffffffff {
		// Zip64: a locator just before the end record points at the
		// zip64 end record, which has the wide values.
		var loc [lenLocator64]byte
		if eocdAt < lenLocator64 {
			return 0, 0, 0, fmt.Errorf("%w: no zip64 locator", errFormat)
		}
		if _, err := r.ReadAt(loc[:], eocdAt-lenLocator64); err != nil {
			return 0, 0, 0, err
		}
		if binary.LittleEndian.Uint32(loc[:]) != sigLocator64 {
			return 0, 0, 0, fmt.Errorf("%w: no zip64 locator", errFormat)
		}
		at64 := int64(binary.LittleEndian.Uint64(loc[8:]))
		var e64 [lenEOCD64]byte
		if at64 < 0 || at64 > size-lenEOCD64 {
			return 0, 0, 0, fmt.Errorf("%w: zip64 end record out of the file", errFormat)
		}
		if _, err := r.ReadAt(e64[:], at64); err != nil {
			return 0, 0, 0, err
		}
		if binary.LittleEndian.Uint32(e64[:]) != sigEOCD64 {
			return 0, 0, 0, fmt.Errorf("%w: bad zip64 end record", errFormat)
		}
		entries = int64(binary.LittleEndian.Uint64(e64[32:]))
		length = int64(binary.LittleEndian.Uint64(e64[40:]))
		offset = int64(binary.LittleEndian.Uint64(e64[48:]))
	}
	if offset < 0 || length < 0 || entries < 0 || offset > size || length > size-offset {
		return 0, 0, 0, fmt.Errorf("%w: central directory out of the file", errFormat)
	}
	return offset, length, entries, nil
}

// FindMember scans the central directory of the zip archive r for the
// member pick prefers: pick returns 0 to pass a name over, 1 for a member
// to keep unless a better one comes, 2 for one to take at once. The
// directory is read through a small buffer, one entry at a time.
func FindMember(r io.ReaderAt, size int64, lim Limits, pick func(name string) int) (*Member, error) {
	offset, length, entries, err := centralDir(r, size)
	if err != nil {
		return nil, err
	}
	if entries > int64(lim.Members) {
		return nil, fmt.Errorf("%w: %d members, more than %d", ErrLimit, entries, lim.Members)
	}
	if length > lim.CentralDir {
		return nil, fmt.Errorf("%w: central directory of %d bytes, more than %d", ErrLimit, length, lim.CentralDir)
	}
	br := getDirReader(io.NewSectionReader(r, offset, length))
	defer putDirReader(br)
	var found *Member
	var hdr [lenCentral]byte
	var name []byte
	for n := 0; ; n++ {
		if _, err := io.ReadFull(br, hdr[:4]); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("zip: central directory: %w", err)
		}
		if binary.LittleEndian.Uint32(hdr[:]) != sigCentral {
			break // what follows the entries (a digital signature record)
		}
		if n == lim.Members {
			return nil, fmt.Errorf("%w: more than %d members", ErrLimit, lim.Members)
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			return nil, fmt.Errorf("zip: central directory: %w", err)
		}
		nameLen := int(binary.LittleEndian.Uint16(hdr[28:]))
		extraLen := int(binary.LittleEndian.Uint16(hdr[30:]))
		commentLen := int(binary.LittleEndian.Uint16(hdr[32:]))
		if cap(name) < nameLen {
			name = make([]byte, nameLen)
		}
		name = name[:nameLen]
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("zip: central directory: %w", err)
		}
		p := pick(string(name))
		if p == 0 || p == 1 && found != nil {
			if _, err := br.Discard(extraLen + commentLen); err != nil {
				return nil, fmt.Errorf("zip: central directory: %w", err)
			}
			continue
		}
		m := &Member{
			Name:     string(name),
			method:   binary.LittleEndian.Uint16(hdr[10:]),
			crc:      binary.LittleEndian.Uint32(hdr[16:]),
			compSize: int64(binary.LittleEndian.Uint32(hdr[20:])),
			size:     int64(binary.LittleEndian.Uint32(hdr[24:])),
			offset:   int64(binary.LittleEndian.Uint32(hdr[42:])),
		}
		extra := make([]byte, extraLen)
		if _, err := io.ReadFull(br, extra); err != nil {
			return nil, fmt.Errorf("zip: central directory: %w", err)
		}
		m.zip64(extra)
		if _, err := br.Discard(commentLen); err != nil {
			return nil, fmt.Errorf("zip: central directory: %w", err)
		}
		found = m
		if p == 2 {
			break
		}
	}
	if found == nil {
		return nil, ErrNoMetadata
	}
	return found, nil
}

// A cold replica reads the metadata of every wheel it hashes, dozens at
// once: a directory reader (32 KiB) and an inflater (a 32 KiB window and
// its tables) made per file would be most of what it allocates, and the
// collector's headroom would grow with them.
var (
	dirReaders sync.Pool // *bufio.Reader of 32 KiB
	inflaters  sync.Pool // io.ReadCloser that is a flate.Resetter
)

func getDirReader(r io.Reader) *bufio.Reader {
	if br, ok := dirReaders.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 32<<10)
}

// putInflater lets go of the file fr was reading before it is pooled.
// The empty reader it is given instead reads like a file (it has no
// ReadByte), so the inflater keeps its own read buffer for the next use.
func putInflater(fr io.ReadCloser) {
	_ = fr.(flate.Resetter).Reset(&io.LimitedReader{}, nil)
	inflaters.Put(fr)
}

// putDirReader lets go of the file br was reading before it is pooled.
func putDirReader(br *bufio.Reader) {
	br.Reset(nil)
	dirReaders.Put(br)
}

func getInflater(r io.Reader) io.ReadCloser {
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		// Reset cannot fail without a preset dictionary.
		_ = fr.(flate.Resetter).Reset(r, nil)
		return fr
	}
	return flate.NewReader(r)
}

// zip64 reads the wide sizes and offset of the zip64 extra field, for the
// fields whose 32-bit values say they are there.
func (m *Member) zip64(extra []byte) {
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return
		}
		if id == 0x0001 {
			f := extra[:n]
			for _, v := range []*int64{&m.size, &m.compSize, &m.offset} {
				if *v == 0xffffffff && len(f) >= 8 {
					*v = int64(binary.LittleEndian.Uint64(f))
					f = f[8:]
				}
			}
		}
		extra = extra[n:]
	}
}

// Read returns the member's bytes, refusing more than limit of them, and
// checks them against the CRC-32 the directory gives.
func (m *Member) Read(r io.ReaderAt, size int64, limit int64) ([]byte, error) {
	if m.size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrLimit, m.Name, m.size, limit)
	}
	var lh [lenLocal]byte
	if m.offset < 0 || m.offset > size-lenLocal {
		return nil, fmt.Errorf("zip: %s: local header out of the file", m.Name)
	}
	if _, err := r.ReadAt(lh[:], m.offset); err != nil {
		return nil, fmt.Errorf("zip: %s: %w", m.Name, err)
	}
	if binary.LittleEndian.Uint32(lh[:]) != sigLocal {
		return nil, fmt.Errorf("zip: %s: bad local header", m.Name)
	}
	start := m.offset + lenLocal + int64(binary.LittleEndian.Uint16(lh[26:])) + int64(binary.LittleEndian.Uint16(lh[28:]))
	if m.compSize < 0 || start > size || m.compSize > size-start {
		return nil, fmt.Errorf("zip: %s: data out of the file", m.Name)
	}
	var rd io.Reader = io.NewSectionReader(r, start, m.compSize)
	switch m.method {
	case 0: // stored
	case 8: // deflated
		fr := getInflater(rd)
		defer putInflater(fr)
		rd = fr
	default:
		return nil, fmt.Errorf("zip: %s: compression method %d", m.Name, m.method)
	}
	// The directory's word for the size is not trusted with memory.
	b := make([]byte, 0, min(m.size, 64<<10))
	b, err := readAppend(b, io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("zip: %s: %w", m.Name, err)
	}
	switch {
	case int64(len(b)) > limit:
		return nil, fmt.Errorf("%w: %s expands to more than %d bytes", ErrLimit, m.Name, limit)
	case int64(len(b)) != m.size || crc32.ChecksumIEEE(b) != m.crc:
		return nil, fmt.Errorf("zip: %s: checksum or size mismatch", m.Name)
	}
	return b, nil
}

// readAppend reads r to its end onto b.
func readAppend(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
