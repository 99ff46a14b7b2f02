package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
)

// jsonPage is the part of a PEP 691 project page the cache keeps.
type jsonPage struct {
	Versions []string `json:"versions"`
	Files    []struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython *string           `json:"requires-python"`
		CoreMetadata   json.RawMessage   `json:"core-metadata"`
		DistInfo       json.RawMessage   `json:"dist-info-metadata"`
		Yanked         json.RawMessage   `json:"yanked"`
		Size           int64             `json:"size"`
		UploadTime     string            `json:"upload-time"`
		Provenance     *string           `json:"provenance"`
	} `json:"files"`
}

// parseJSON reads a PEP 691 project page of name fetched from base.
func parseJSON(b []byte, base *url.URL, name string) (*record, error) {
	var p jsonPage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading the upstream's JSON page: %w", err)
	}
	rec := &record{Name: name, Versions: p.Versions}
	for _, f := range p.Files {
		e := entry{Filename: f.Filename, URL: f.URL, Hashes: lowerKeys(f.Hashes), Size: f.Size}
		if f.RequiresPython != nil {
			e.RequiresPython = *f.RequiresPython
		}
		md := f.CoreMetadata
		if len(md) == 0 || string(md) == "null" {
			md = f.DistInfo
		}
		e.Metadata, e.MetadataHashes = jsonMetadata(md)
		e.Yanked, e.YankReason = jsonYank(f.Yanked)
		if t, err := time.Parse(time.RFC3339Nano, f.UploadTime); err == nil {
			e.UploadTime = t.UTC()
		}
		if f.Provenance != nil {
			e.Provenance = *f.Provenance
		}
		rec.add(e, base)
	}
	if len(rec.Versions) == 0 {
		rec.Versions = versionsOf(rec.Files) // before API version 1.1
	}
	return rec, nil
}

// versionsOf lists the versions of the files, in their order.
func versionsOf(files []entry) []string {
	var versions []string
	for _, e := range files {
		if df, err := dist.Parse(e.Filename); err == nil && !slices.Contains(versions, df.Version) {
			versions = append(versions, df.Version)
		}
	}
	return versions
}

// jsonMetadata reads core-metadata: false, true or a dictionary of hashes.
func jsonMetadata(raw json.RawMessage) (bool, map[string]string) {
	var hashes map[string]string
	if json.Unmarshal(raw, &hashes) == nil && hashes != nil {
		return true, lowerKeys(hashes)
	}
	var b bool
	json.Unmarshal(raw, &b)
	return b, nil
}

// jsonYank reads yanked: a boolean or the reason.
func jsonYank(raw json.RawMessage) (bool, string) {
	var reason string
	if json.Unmarshal(raw, &reason) == nil {
		return true, reason
	}
	var b bool
	json.Unmarshal(raw, &b)
	return b, ""
}

// parseHTML reads a PEP 503 project page of name fetched from base: every
// anchor with its data- attributes and the digest in its fragment.
func parseHTML(b []byte, base *url.URL, name string) (*record, error) {
	rec := &record{Name: name}
	for a := range anchors(b) {
		href := a["href"]
		if href == "" {
			continue
		}
		link, frag, _ := strings.Cut(href, "#")
		e := entry{URL: link, Hashes: map[string]string{}}
		if algo, sum, ok := strings.Cut(frag, "="); ok {
			e.Hashes[strings.ToLower(algo)] = strings.ToLower(sum)
		}
		if u, err := url.Parse(link); err == nil {
			e.Filename, _ = url.PathUnescape(u.Path[strings.LastIndexByte(u.Path, '/')+1:])
		}
		if v, ok := a["data-requires-python"]; ok {
			e.RequiresPython = v
		}
		md, ok := a["data-core-metadata"]
		if !ok {
			md, ok = a["data-dist-info-metadata"]
		}
		if ok && md != "false" {
			e.Metadata = true
			if algo, sum, ok := strings.Cut(md, "="); ok {
				e.MetadataHashes = map[string]string{strings.ToLower(algo): strings.ToLower(sum)}
			}
		}
		if v, ok := a["data-yanked"]; ok {
			e.Yanked, e.YankReason = true, v
		}
		e.Provenance = a["data-provenance"]
		rec.add(e, base)
	}
	rec.Versions = versionsOf(rec.Files)
	return rec, nil
}

// add keeps an entry whose file name is a distribution of the record's
// project and whose links resolve, with its URLs made absolute; a name that
// could escape the cache's directory, another project's file (which pip
// would pass over anyway, and which is not this name's to serve) or a
// duplicate is dropped.
func (r *record) add(e entry, base *url.URL) bool {
	if e.Filename == "" || strings.ContainsAny(e.Filename, "/\\\x00") || strings.HasPrefix(e.Filename, ".") || r.file(e.Filename) != nil {
		return false
	}
	if df, err := dist.Parse(e.Filename); err != nil || df.Normalized() != r.Name {
		return false
	}
	var err error
	if e.URL, err = resolve(base, e.URL); err != nil {
		return false
	}
	if e.Provenance != "" {
		if e.Provenance, err = resolve(base, e.Provenance); err != nil {
			e.Provenance = ""
		}
	}
	r.Files = append(r.Files, e)
	return true
}

var errScheme = errors.New("not an http(s) link")

func resolve(base *url.URL, ref string) (string, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errScheme
	}
	u.Fragment = ""
	return u.String(), nil
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = strings.ToLower(v)
	}
	return out
}
