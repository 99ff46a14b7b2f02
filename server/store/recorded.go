package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// What the read path computes from a file (digests, whether it has core
// metadata and that metadata's digest, Requires-Python) is recorded on the
// volume, so that no replica hashes or unzips it again: by the upload that
// published the file, or by the replica that hashed it. A record names the
// identity of the file it describes: a file replaced or rewritten since no
// longer matches and is read as usual.

// recordedFacts is the on-disk form.
type recordedFacts struct {
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	// CtimeNs, when set, must match too. An upload's record has none: the
	// link that publishes the file changes its change time.
	CtimeNs        int64             `json:"ctime_ns,omitempty"`
	Digests        map[string]string `json:"digests"`
	Metadata       bool              `json:"metadata"`
	MetadataDigest map[string]string `json:"metadata_digests,omitempty"`
	RequiresPython string            `json:"requires_python,omitempty"`
}

// facts turns the record into the facts of a file that is now as id says,
// or nil when the record describes another file (by inode, size and
// modification time) or lacks the algorithm's digest, or is malformed.
func (rec *recordedFacts) facts(id identity, algo string) *Facts {
	if rec.Ino != id.ino || rec.Size != id.size || rec.MtimeNs != id.mtime || rec.CtimeNs != 0 && rec.CtimeNs != id.ctime {
		return nil
	}
	var d, md []byte
	if algo != "none" {
		var err error
		d, err = hex.DecodeString(rec.Digests[algo])
		if err != nil || len(d) != hashes[algo]().Size() {
			return nil
		}
		if rec.Metadata {
			md, err = hex.DecodeString(rec.MetadataDigest[algo])
			if err != nil || len(md) != len(d) {
				return nil
			}
		}
	}
	return newFacts(id, rec.Metadata, d, md, rec.RequiresPython)
}

// A replica that hashes a file it found (one copied in, synced, or
// uploaded before records existed) records what it computed too, so that
// the next replica to start, or one whose pod was replaced, reads it
// instead of hashing: for a whole index, hours of reading on a network
// file system. The records of one project's files in one directory share a
// file, .pkgindex/facts/<directory>/.<project>.facts, so a cold replica
// reads one record per project, not one per file. A record is a cache of
// facts keyed by identity: an entry whose file changed is ignored, two
// replicas writing at once lose at most some entries (they are computed
// again), and a record that is corrupt or for another file is never
// served. Records are written only in the first root, the one uploads
// write to; when it is read-only nothing is recorded.

// projectRecord is the on-disk form: a record per file name.
type projectRecord struct {
	Files map[string]recordedFacts `json:"files"`
}

// maxProjectRecord bounds the size of a project record read.
const maxProjectRecord = 16 << 20

// recordKey names the record of one project's files in one directory.
type recordKey struct{ dir, project string }

func recordKeyOf(f *File) recordKey {
	dir := ""
	if i := strings.LastIndexByte(f.Rel, '/'); i >= 0 {
		dir = f.Rel[:i]
	}
	return recordKey{dir, f.project}
}

// rel is where the record lives, below the first root.
func (k recordKey) rel() string {
	return StateDir + "/facts/" + joinRel(k.dir, "."+k.project+".facts")
}

// recordPath is where the record of k lives on disk.
func (s *Store) recordPath(k recordKey) string {
	return filepath.Join(s.roots[0].path, filepath.FromSlash(k.rel()))
}

// records keeps the project records read lately, and the facts hashed
// since the last write, for the writer.
type records struct {
	mu      sync.Mutex
	read    map[recordKey]*loadedRecord
	pending map[recordKey][]*File
	writing bool
	writer  sync.WaitGroup // the writing goroutine, for Close
	off     atomic.Bool    // the first root refused a write: record nothing more
}

// maxRecordsKept bounds the project records kept in memory; a cold start
// reads them in order of projects, so few are needed at once.
const maxRecordsKept = 64

// loadedRecord is a project record being read or read: the first caller
// reads it, and those that come meanwhile wait for that read, since a
// project's files are checked in parallel and would otherwise each read it.
type loadedRecord struct {
	done chan struct{}
	rec  *projectRecord
}

// fromProjectRecord returns the facts the project record holds for f as it
// is now (id), or nil.
func (s *Store) fromProjectRecord(f *File, id identity) *Facts {
	if f.root != s.roots[0] {
		return nil
	}
	k := recordKeyOf(f)
	s.records.mu.Lock()
	l, ok := s.records.read[k]
	if !ok {
		if s.records.read == nil || len(s.records.read) >= maxRecordsKept {
			s.records.read = map[recordKey]*loadedRecord{}
		}
		l = &loadedRecord{done: make(chan struct{})}
		s.records.read[k] = l
	}
	s.records.mu.Unlock()
	if !ok {
		l.rec = s.readProjectRecord(k)
		close(l.done)
	}
	<-l.done
	if l.rec == nil {
		return nil
	}
	e, ok := l.rec.Files[f.Filename()]
	if !ok {
		return nil
	}
	return e.facts(id, s.opts.HashAlgo)
}

// readProjectRecord reads a project record; nil when there is none or it
// is unreadable or malformed.
func (s *Store) readProjectRecord(k recordKey) *projectRecord {
	fh, err := s.roots[0].base.open(k.rel())
	if err != nil {
		return nil
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxProjectRecord+1))
	if err != nil || len(b) > maxProjectRecord {
		return nil
	}
	var rec projectRecord
	if json.Unmarshal(b, &rec) != nil {
		s.opts.Log.Info("ignoring a malformed facts record", "path", fh.name)
		return nil
	}
	return &rec
}

// noteHashed queues f, whose facts were just computed, for its project
// record. Only facts of a file that had settled before it was read are
// recorded: a file still being written may change within one timestamp
// tick. The queue holds the File, whose facts it already keeps, so a cold
// replica hashing a whole index queues 8 bytes a file.
func (s *Store) noteHashed(f *File, fa *Facts) {
	if !fa.trusted || f.root != s.roots[0] || s.records.off.Load() || s.opts.HashAlgo == "none" {
		return
	}
	k := recordKeyOf(f)
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	if s.records.pending == nil {
		s.records.pending = map[recordKey][]*File{}
	}
	s.records.pending[k] = append(s.records.pending[k], f)
	if !s.records.writing {
		s.records.writing = true
		s.records.writer.Add(1)
		go s.writeRecords()
	}
}

// writeRecords writes the pending facts into their project records until
// none are pending, a few records at once: on a network file system each
// is several round trips. It runs behind the hashing it records, so
// requests never wait for it.
func (s *Store) writeRecords() {
	defer s.records.writer.Done()
	for {
		s.records.mu.Lock()
		batch := s.records.pending
		s.records.pending = nil
		if len(batch) == 0 {
			s.records.writing = false
			s.records.mu.Unlock()
			return
		}
		s.records.mu.Unlock()
		keys := make([]recordKey, 0, len(batch))
		for k := range batch {
			keys = append(keys, k)
		}
		work := make(chan recordKey)
		var wg sync.WaitGroup
		for range min(recordWriters, len(keys)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range work {
					if s.records.off.Load() {
						continue
					}
					if err := s.writeProjectRecord(k, batch[k]); err != nil {
						s.opts.Log.Error(err, "recording facts; no more records will be written", "record", k.rel())
						s.records.off.Store(true)
					}
				}
			}()
		}
		for _, k := range keys {
			work <- k
		}
		close(work)
		wg.Wait()
	}
}

// recordWriters is how many project records are written at once.
const recordWriters = 8

// recordOf is the record of f's facts fa.
func (s *Store) recordOf(fa *Facts) recordedFacts {
	rec := recordedFacts{Ino: fa.key.ino, Size: fa.key.size, MtimeNs: fa.key.mtime, CtimeNs: fa.key.ctime,
		Digests:  map[string]string{s.opts.HashAlgo: hex.EncodeToString(fa.Digest())},
		Metadata: fa.Metadata(), RequiresPython: fa.RequiresPython()}
	if md := fa.MetadataDigest(); md != nil {
		rec.MetadataDigest = map[string]string{s.opts.HashAlgo: hex.EncodeToString(md)}
	}
	return rec
}

// writeProjectRecord merges the facts of files into the record of k.
func (s *Store) writeProjectRecord(k recordKey, files []*File) error {
	entries := make(map[string]recordedFacts, len(files))
	for _, f := range files {
		if fa := f.facts.Load(); fa != nil {
			entries[f.Filename()] = s.recordOf(fa)
		}
	}
	return s.mergeRecord(k, entries)
}

// mergeRecord merges entries into the record of k, keeping the entries of
// other files as they are, and replaces it in one step. It is not flushed
// to disk: a record lost in a crash is a cache lost, and a replica
// computes it again. Two replicas merging into one record at once may lose
// an entry the same way.
func (s *Store) mergeRecord(k recordKey, entries map[string]recordedFacts) error {
	rec := s.readProjectRecord(k)
	if rec == nil || rec.Files == nil {
		rec = &projectRecord{Files: map[string]recordedFacts{}}
	}
	for name, e := range entries {
		old, ok := rec.Files[name]
		if ok && old.Ino == e.Ino && old.Size == e.Size && old.MtimeNs == e.MtimeNs {
			// The same file: keep the digests of other algorithms.
			for algo, d := range old.Digests {
				if _, mine := e.Digests[algo]; !mine {
					e.Digests[algo] = d
				}
			}
			for algo, d := range old.MetadataDigest {
				if _, mine := e.MetadataDigest[algo]; !mine && e.MetadataDigest != nil {
					e.MetadataDigest[algo] = d
				}
			}
		}
		rec.Files[name] = e
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.records.mu.Lock()
	delete(s.records.read, k) // read again, with these
	s.records.mu.Unlock()
	s.Stats.FactsRecordWrites.Add(1)
	return s.replaceFile(s.recordPath(k), b, false)
}

// forgetRecorded removes f's entry from its project record, and the record
// when nothing else is in it, so that a removed file leaves nothing behind.
func (s *Store) forgetRecorded(f *File) error {
	if f.root != s.roots[0] {
		return nil
	}
	k := recordKeyOf(f)
	rec := s.readProjectRecord(k)
	if rec == nil {
		return nil
	}
	if _, ok := rec.Files[f.Filename()]; !ok {
		return nil
	}
	delete(rec.Files, f.Filename())
	s.records.mu.Lock()
	delete(s.records.read, k)
	s.records.mu.Unlock()
	path := s.recordPath(k)
	if len(rec.Files) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.replaceFile(path, b, false)
}
