package store

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
)

// A file published by an upload gets a record of what the read path would
// otherwise compute from it (digests, whether it has core metadata and that
// metadata's digest, Requires-Python), so no replica hashes or unzips it
// again. The record is kept in the store's directory, at
// .pkgindex/facts/<path of the file>.json, and names the identity of the
// file it describes: a file replaced or rewritten since no longer matches
// and is read as usual.

// recordedFacts is the on-disk form.
type recordedFacts struct {
	Ino            uint64            `json:"ino"`
	Size           int64             `json:"size"`
	MtimeNs        int64             `json:"mtime_ns"`
	Digests        map[string]string `json:"digests"`
	Metadata       bool              `json:"metadata"`
	MetadataDigest map[string]string `json:"metadata_digests,omitempty"`
	RequiresPython string            `json:"requires_python,omitempty"`
}

// factsRel is where the record of the file at rel lives, below its root.
func factsRel(rel string) string { return StateDir + "/facts/" + rel + ".json" }

// factsFile is the record of the file at rel of the first root.
func (s *Store) factsFile(rel string) string {
	return filepath.Join(s.roots[0].path, filepath.FromSlash(factsRel(rel)))
}

// recorded returns the facts recorded for f if they describe the file as
// it is (id) in the store's algorithm, else nil.
func (s *Store) recorded(f *File, id identity) *Facts {
	algo := s.opts.HashAlgo
	fh, err := f.root.base.open(factsRel(f.Rel))
	if err != nil {
		return nil
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, 64<<10))
	if err != nil {
		return nil
	}
	var rec recordedFacts
	if json.Unmarshal(b, &rec) != nil || rec.Ino != id.ino || rec.Size != id.size || rec.MtimeNs != id.mtime {
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
