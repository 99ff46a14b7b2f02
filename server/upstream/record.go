package upstream

import (
	"encoding/hex"
	"slices"
	"time"
)

// record is what the cache keeps of one project's upstream page, as JSON in
// <cache>/pages/<project>.json: every replica serves its pages from it.
type record struct {
	Name string `json:"name"`
	// Found is false when no upstream has the project.
	Found bool `json:"found"`
	// Upstream is the root the page came from and URL the page's own,
	// after redirects: relative links were resolved against it.
	Upstream string    `json:"upstream,omitempty"`
	URL      string    `json:"url,omitempty"`
	Fetched  time.Time `json:"fetched"`
	// ETag and LastModified are the upstream's validators of the page.
	ETag         string   `json:"etag,omitempty"`
	LastModified string   `json:"lastModified,omitempty"`
	Versions     []string `json:"versions,omitempty"`
	Files        []entry  `json:"files,omitempty"`
}

// entry is one file the upstream page listed.
type entry struct {
	Filename string `json:"filename"`
	URL      string `json:"url"` // absolute
	// Hashes are hex digests by hashlib name.
	Hashes         map[string]string `json:"hashes,omitempty"`
	RequiresPython string            `json:"requiresPython,omitempty"`
	// Metadata says the upstream serves PEP 658 core metadata at
	// URL+".metadata", with MetadataHashes when it gave them.
	Metadata       bool              `json:"metadata,omitempty"`
	MetadataHashes map[string]string `json:"metadataHashes,omitempty"`
	Yanked         bool              `json:"yanked,omitempty"`
	YankReason     string            `json:"yankReason,omitempty"`
	Size           int64             `json:"size,omitempty"`
	UploadTime     time.Time         `json:"uploadTime,omitzero"`
	// Provenance is the absolute URL of the PEP 740 provenance object.
	Provenance string `json:"provenance,omitempty"`
}

// preferred are the digests used, strongest first, when an entry has
// several: pages show one, downloads are checked against every one known.
var preferred = []string{"sha256", "sha512", "sha384", "sha3_256", "blake2b", "sha224", "sha1", "md5"}

// pick chooses the digest a page shows: the server's own algorithm when the
// upstream gave it, else the strongest it gave.
func pick(hashes map[string]string, algo string) (string, []byte) {
	order := preferred
	if algo != "" && algo != "none" {
		order = append([]string{algo}, preferred...)
	}
	for _, name := range order {
		if v, ok := hashes[name]; ok {
			if b, err := hex.DecodeString(v); err == nil {
				return name, b
			}
		}
	}
	return "", nil
}

// file finds the entry of filename.
func (r *record) file(filename string) *entry {
	i := slices.IndexFunc(r.Files, func(e entry) bool { return e.Filename == filename })
	if i < 0 {
		return nil
	}
	return &r.Files[i]
}
