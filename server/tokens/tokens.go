// Package tokens keeps the scoped API tokens of an index on its shared
// volume, so that every replica accepts a token the moment it is made and
// refuses it the moment it is revoked.
//
// A token is Prefix, a 16-hex-digit id, "-" and 43 characters of base64url
// secret (256 random bits); secret scanners can match the prefix. Only a
// SHA-256 of the whole token is kept, in <root>/.pkgindex/tokens/<id>.json,
// written to a temporary name, flushed and renamed into place. A token is
// checked by opening its record, on every request: there is no cache to go
// stale, so a revoked record (removed, and its directory flushed, before
// Revoke returns) is refused by the next request on any replica whose file
// system gives close-to-open consistency, as NFS and EFS do. A secret of
// 256 random bits needs no slow hash: nobody can search its space.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"pkgindex.dev/pkgindex/server/policy"
	"pkgindex.dev/pkgindex/server/store"
)

// Prefix starts every token.
const Prefix = "pkgindex-"

const (
	idLen     = 16 // hex digits
	secretLen = 43 // base64url characters of 32 bytes
	// tokenLen is the length of every token.
	tokenLen = len(Prefix) + idLen + 1 + secretLen
	// maxRecord bounds a record read from the volume.
	maxRecord = 64 << 10
)

// Errors of Check and Revoke, matched with errors.Is. Their messages are
// safe to show to the client.
var (
	// ErrInvalid means the token is malformed, unknown, revoked or
	// wrong: the client cannot tell which, nor can anyone guessing.
	ErrInvalid = errors.New("invalid or revoked token")
	// ErrExpired means the token was valid until its expiry.
	ErrExpired = errors.New("the token has expired")
	// ErrNotFound means no token has the id.
	ErrNotFound = errors.New("no such token")
)

// Record is what the index keeps of a token.
type Record struct {
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the token; never shown.
	Hash string `json:"hash,omitempty"`
	// Projects are the normalized names the token may act on; empty for
	// any project its owner may act on (tokens minted for a publisher).
	Projects []string `json:"projects,omitempty"`
	// Rights the token carries, by their policy names.
	Rights []string `json:"rights"`
	// Owner is who made the token; the token never has more rights than
	// the policy gives the owner at the time of use.
	Owner policy.Identity `json:"owner"`
	// Claims are, for a token minted for a publisher, the claims of the
	// identity token it was minted for, to compare with attestations.
	Claims      map[string]string `json:"claims,omitempty"`
	Created     time.Time         `json:"created"`
	Expires     time.Time         `json:"expires"`
	Description string            `json:"description,omitempty"`
}

// Public returns the record without its hash, as listings show it.
func (r Record) Public() Record {
	r.Hash = ""
	return r
}

// Allows reports whether the token's own scope covers right over project
// (a normalized name; "" for the pages of the whole index).
func (r *Record) Allows(right policy.Right, project string) bool {
	rights, err := policy.ParseRights(r.Rights)
	if err != nil || !rights.Has(right) {
		return false
	}
	return len(r.Projects) == 0 || slices.Contains(r.Projects, project)
}

// Store keeps the records of one index.
type Store struct {
	dir string
	now func() time.Time
}

// New returns the store of tokens under the state directory stateDir
// (<root>/.pkgindex). Nothing is made until a token is.
func New(stateDir string) *Store {
	return &Store{dir: filepath.Join(stateDir, "tokens"), now: time.Now}
}

// LooksLike reports whether s has the shape of a token of this package;
// a password that does not is another kind of credential.
func LooksLike(s string) bool { return strings.HasPrefix(s, Prefix) }

// Redact replaces the secret of every token in s, so that a URL a client
// put a token into (DELETE /api/tokens/<token>) can be logged.
func Redact(s string) string {
	if !strings.Contains(s, Prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, Prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		rest := s[i+len(Prefix):]
		keep := min(len(rest), idLen+1) // the id and its dash are no secret
		b.WriteString(s[:i+len(Prefix)] + rest[:keep])
		rest = rest[keep:]
		n := 0
		for n < len(rest) && n < secretLen && isBase64URL(rest[n]) {
			n++
		}
		if n > 0 {
			b.WriteString("REDACTED")
		}
		s = rest[n:]
	}
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ParseID returns the id of a token, or id itself when given an id.
func ParseID(tokenOrID string) (string, error) {
	s := tokenOrID
	if rest, ok := strings.CutPrefix(s, Prefix); ok {
		if len(s) != tokenLen || rest[idLen] != '-' {
			return "", ErrInvalid
		}
		s = rest[:idLen]
	}
	if len(s) != idLen || strings.Trim(s, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%q is neither a token nor a token's id", truncate(s, 20))
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Create makes a token for rec (its ID, Hash and Created are set here),
// stores its record and returns the token, which is shown once.
func (s *Store) Create(rec Record) (string, Record, error) {
	var id [idLen / 2]byte
	var secret [32]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	rec.ID = hex.EncodeToString(id[:])
	token := Prefix + rec.ID + "-" + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.Hash = hashOf(token)
	rec.Created = s.now().UTC().Truncate(time.Second)
	rec.Expires = rec.Expires.UTC().Truncate(time.Second)
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", Record{}, err
	}
	if err := s.write(rec.ID, data); err != nil {
		return "", Record{}, err
	}
	return token, rec, nil
}

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// write puts data in place of the record id in one step, flushed to disk
// with its directory, so that no reader sees part of it and a crash loses
// no token that was handed out.
func (s *Store) write(id string, data []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("making %s: %w", s.dir, err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a token record in %s: %w", s.dir, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), s.path(id)); err != nil {
		return fmt.Errorf("storing token %s: %w", id, err)
	}
	return store.SyncDir(s.dir)
}

// read returns the record of id as stored.
func (s *Store) read(id string) (*Record, error) {
	f, err := os.Open(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading token %s: %w", id, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecord))
	if err != nil {
		return nil, fmt.Errorf("reading token %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil || rec.ID != id {
		return nil, fmt.Errorf("token record %s is damaged", s.path(id))
	}
	return &rec, nil
}

// Check returns the record of a valid token. A malformed, unknown, revoked
// or wrong token is ErrInvalid, an expired one ErrExpired; other errors
// are the volume's and mean the token could not be checked.
func (s *Store) Check(token string) (*Record, error) {
	if len(token) != tokenLen || !strings.HasPrefix(token, Prefix) {
		return nil, ErrInvalid
	}
	id, err := ParseID(token)
	if err != nil {
		return nil, ErrInvalid
	}
	rec, err := s.read(id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hashOf(token))) != 1 {
		return nil, ErrInvalid
	}
	if !s.now().Before(rec.Expires) {
		return nil, ErrExpired
	}
	return rec, nil
}

// Recheck reports whether the token whose record Check returned is still
// valid: its record still stored (not revoked) and not expired.
func (s *Store) Recheck(rec *Record) error {
	cur, err := s.read(rec.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrInvalid
	case err != nil:
		return err
	case cur.Hash != rec.Hash:
		return ErrInvalid
	case !s.now().Before(cur.Expires):
		return ErrExpired
	}
	return nil
}

// Get returns the record of id, expired or not.
func (s *Store) Get(id string) (*Record, error) { return s.read(id) }

// List returns the records of tokens that have not expired, oldest first.
func (s *Store) List() ([]Record, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	var out []Record
	now := s.now()
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		rec, err := s.read(id)
		if errors.Is(err, ErrNotFound) {
			continue // revoked while listing
		}
		if err != nil {
			return nil, err
		}
		if now.Before(rec.Expires) {
			out = append(out, *rec)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke removes the record of id; when it returns, no replica accepts
// the token any more.
func (s *Store) Revoke(id string) error {
	err := os.Remove(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	return store.SyncDir(s.dir)
}

// Clean removes the records of tokens expired for more than a day (a
// while during which a client is told "expired" rather than "invalid"),
// and temporary files older than an hour. It returns how many went.
func (s *Store) Clean() (int, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("listing tokens: %w", err)
	}
	removed := 0
	now := s.now()
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > time.Hour && os.Remove(filepath.Join(s.dir, name)) == nil {
				removed++
			}
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok {
			continue
		}
		if rec, err := s.read(id); err == nil && now.Sub(rec.Expires) > 24*time.Hour && os.Remove(s.path(id)) == nil {
			removed++
		}
	}
	return removed, nil
}

// ParseExpiry reads a lifetime: "90d", "12h", "30m" or any Go duration,
// from a minute to a year.
func ParseExpiry(v string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < time.Minute || d > 366*24*time.Hour {
		return 0, fmt.Errorf("expiry %q: want a lifetime from 1m to 366d, such as 90d or 12h", truncate(v, 20))
	}
	return d, nil
}
