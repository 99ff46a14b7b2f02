package auth

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/logging"
)

// NoPasswords is pypiserver's spelling of "no password file, no
// authentication at all" for -P/--passwords.
const NoPasswords = "."

// maxFileSize bounds the password file read into memory: a mistaken path to
// a large file must not cost the server its memory. Hundreds of thousands of
// entries fit.
const maxFileSize = 64 << 20

// retryInterval is how often a file that could not be read is tried again
// while its identity stays the same: a read error may pass (a file server
// back, a permission fixed) without the file changing. Each try logs. A file
// that was read but has no usable entry is not read again until it changes.
const retryInterval = 5 * time.Second

// settleGuard is how long after its last change a file must be before its
// identity is trusted to reveal the next change. A file rewritten in place
// (htpasswd copies its result over the file) keeps its inode, and two writes
// within one tick of the kernel's coarse clock, or of a file server's, can
// leave size and times equal; until the guard has passed since the last
// change, every request reads the file again (unchanged content is noticed
// by its digest and costs no parsing). It is the store's default guard, for
// the same reasons: timestamp granularity and file-server clock skew.
const settleGuard = 2 * time.Second

// Options configure an Authenticator. The rules pypiserver applies to its
// flags hold here: "-P ." and "-a ." go together.
type Options struct {
	// Passwords is the htpasswd file, NoPasswords (".") for no
	// authentication at all, or "" for none given: then every protected
	// action is refused (ErrForbidden), as in pypiserver.
	Passwords string
	// Actions are the actions that need credentials (-a/--authenticate);
	// see ParseActions and DefaultActions. It must be empty exactly when
	// Passwords is ".".
	Actions Actions
	// AllowPlaintext accepts entries whose password is stored as plain
	// text. Off, such lines are refused and reported.
	AllowPlaintext bool
	// Log receives the loads and reloads of the file, the lines refused in
	// it, each refused login (at warning level, with the user name and the
	// client's address, for tools that block addresses) and (at V(1))
	// requests without usable credentials. It never receives a password or
	// a hash.
	Log logr.Logger
}

// Stats count the Authenticator's work, for metrics.
type Stats struct {
	CacheHits     atomic.Uint64 // credentials accepted from the cache
	Verifications atomic.Uint64 // passwords checked against a hash (the slow path), dummies included
	Refused       atomic.Uint64 // requests answered ErrUnauthorized
	Reloads       atomic.Uint64 // new contents of the file put in force
	ReloadErrors  atomic.Uint64 // changed files that could not be read or had no usable entry
}

// Authenticator checks requests against the password file and the protected
// actions. It is safe for concurrent use.
type Authenticator struct {
	opts  Options
	log   logr.Logger
	state atomic.Pointer[state]
	// mu lets one request at a time read a changed file; the others wait
	// for its result rather than answer from the file they know is old.
	mu   sync.Mutex
	macs sync.Pool // of HMAC-SHA256 under a key drawn once per Authenticator
	now  func() time.Time
	// Stats count the work done; read them at any time.
	Stats Stats
}

// state is what the last look at the file found.
type state struct {
	id      identity          // of the file last read or tried; zero if it could not be read
	settled bool              // id had not changed for settleGuard when it was read
	sum     [sha256.Size]byte // of the content last read, used or refused
	tab     *table            // the credentials in force
	retryAt time.Time         // after a read error, when to try again; zero otherwise
}

// fresh reports whether st still describes a file whose identity is id.
func (st *state) fresh(id identity, now func() time.Time) bool {
	return id == st.id && st.settled && (st.retryAt.IsZero() || now().Before(st.retryAt))
}

// table is one content of the file, parsed.
type table struct {
	users map[string]entry
	dummy verifier // checked for unknown users; costs what most entries cost
	cache *cache
}

// New checks opts against pypiserver's rules and loads the password file.
// An unreadable file or one without a usable entry is an error here, where
// the operator sees it at once; later changes that fail are logged and the
// previous entries stay in force.
func New(opts Options) (*Authenticator, error) {
	switch {
	case opts.Passwords == NoPasswords && opts.Actions != 0:
		return nil, fmt.Errorf("-P/--passwords . turns authentication off, so -a/--authenticate must be . too, not %q", opts.Actions.String())
	case opts.Passwords != NoPasswords && opts.Actions == 0:
		return nil, fmt.Errorf("-a/--authenticate . (nothing protected) needs -P/--passwords . too, not %q", opts.Passwords)
	}
	key := randomBytes(sha256.Size)
	a := &Authenticator{
		opts: opts,
		log:  opts.Log.WithName("auth"),
		macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }},
		now:  time.Now,
	}
	if opts.Passwords == "" || opts.Passwords == NoPasswords {
		return a, nil
	}
	id, _ := statPath(opts.Passwords)
	st, err := a.load(&state{}, id)
	if err != nil {
		// At start there are no previous entries to keep: refuse to run,
		// naming the flag to fix.
		return nil, fmt.Errorf("-P/--passwords: %w", err)
	}
	a.state.Store(st)
	return a, nil
}

// Disabled reports whether authentication is off altogether ("-P . -a ."),
// which the server should say loudly at start.
func (a *Authenticator) Disabled() bool { return a.opts.Passwords == NoPasswords }

// Protects reports whether act needs credentials.
func (a *Authenticator) Protects(act Action) bool { return a.opts.Actions.Has(act) }

// Check decides whether r may do act. For an unprotected action it returns
// "" and nil without looking at the request. Otherwise it returns the user
// name of valid Basic credentials, or an error matching ErrUnauthorized (no,
// malformed or wrong credentials: answer 401 and call Challenge) or
// ErrForbidden (no password file: answer 403).
//
// An unknown user costs the same as a wrong password. The password file is
// looked at on every call and re-read if it changed.
func (a *Authenticator) Check(r *http.Request, act Action) (user string, err error) {
	if !a.opts.Actions.Has(act) {
		return "", nil
	}
	if a.opts.Passwords == "" {
		return "", errNoFile
	}
	return a.Verify(r, act.String())
}

// Verify checks the request's Basic credentials against the password file,
// whatever the action, and returns the user name; what (an action or a
// right) is only for the log. Without a password file every user name is
// unknown. Its errors match ErrUnauthorized.
func (a *Authenticator) Verify(r *http.Request, what string) (user string, err error) {
	if a.opts.Passwords == "" || a.opts.Passwords == NoPasswords {
		return "", errNoUsers
	}
	var buf [256]byte
	name, password, err := basic(r.Header.Get("Authorization"), buf[:])
	if err != nil {
		a.Stats.Refused.Add(1)
		a.log.V(1).Info("request refused", "reason", err.Error(), "action", what)
		return "", err
	}
	tab := a.current()
	key := a.key(name, password)
	e, known := tab.users[string(name)]
	if known && tab.cache.has(key) {
		a.Stats.CacheHits.Add(1)
		return e.name, nil
	}
	a.Stats.Verifications.Add(1)
	if !known {
		// The same work as for a wrong password, so that timing does
		// not tell which user names exist.
		tab.dummy.verify(password)
		a.Stats.Refused.Add(1)
		logging.Warn(a.log, "login refused", "reason", "unknown user", "user", string(name), "remote", r.RemoteAddr, "action", what)
		return "", errWrong
	}
	if !e.hash.verify(password) {
		a.Stats.Refused.Add(1)
		logging.Warn(a.log, "login refused", "reason", "wrong password", "user", e.name, "remote", r.RemoteAddr, "action", what)
		return "", errWrong
	}
	tab.cache.add(key)
	return e.name, nil
}

// Known reports whether the password file in force has an entry for user:
// a token a user made stops working when the user leaves the file.
func (a *Authenticator) Known(user string) bool {
	if a.opts.Passwords == "" || a.opts.Passwords == NoPasswords {
		return false
	}
	_, known := a.current().users[user]
	return known
}

// key is the cache key of a user and password. The user's length comes
// first, so that no two pairs give the same input.
func (a *Authenticator) key(user, password []byte) cacheKey {
	mac := a.macs.Get().(hash.Hash)
	mac.Reset()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(user)))
	mac.Write(n[:])
	mac.Write(user)
	mac.Write(password)
	var k cacheKey
	mac.Sum(k[:0])
	a.macs.Put(mac)
	return k
}

// current returns the credentials in force for a request arriving now: the
// file's identity is compared with the one last read, and a change is read
// before the request goes on. One stat per checked request is cheap next to
// anything a protected request does, and unlike a polling interval it leaves
// no moment in which a password already replaced on disk still works or a
// new one does not yet.
func (a *Authenticator) current() *table {
	st := a.state.Load()
	id, _ := statPath(a.opts.Passwords) // a failed stat gives the zero identity
	if st.fresh(id, a.now) {
		return st.tab
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Another request may have read the file while this one waited: look
	// again, now that nobody else can.
	st = a.state.Load()
	id, _ = statPath(a.opts.Passwords)
	if st.fresh(id, a.now) {
		return st.tab
	}
	next, err := a.load(st, id)
	if err != nil {
		a.Stats.ReloadErrors.Add(1)
		a.log.Error(err, "password file not reloaded; the previous entries stay in force",
			"path", a.opts.Passwords, "users", len(st.tab.users))
	}
	a.state.Store(next)
	return next.tab
}

var (
	// errTorn means the file changed while it was read; the next request
	// reads it again.
	errTorn = errors.New("the file changed while it was read")
	// errUnusable means the file was read whole but cannot be used; it is
	// not read again until it changes.
	errUnusable = errors.New("unusable password file")
)

// load reads the file, whose identity stat gave as tried just before, and
// returns the state that follows prev (the zero state at start). Where the
// file cannot be read or has no usable entry, the next state keeps prev's
// table and the error says why. Content already seen keeps its outcome
// quietly: the table and its cache if it was used, the previous table if it
// was refused (which was told once). A new table reuses prev's dummy when
// its cost still fits, since making a bcrypt one is slow.
func (a *Authenticator) load(prev *state, tried identity) (*state, error) {
	path := a.opts.Passwords
	start := a.now()
	next := *prev
	next.retryAt = time.Time{}
	data, id, err := readFile(path, tried)
	for retries := 2; err != nil && retries > 0; retries-- {
		// A file that moved under the read (a Secret volume swapped
		// while the old file was open and then deleted, or a write in
		// place) is read again at once, rather than refused until the
		// next request.
		now, serr := statPath(path)
		if serr != nil || now == tried {
			break
		}
		clear(data)
		tried = now
		data, id, err = readFile(path, tried)
	}
	defer clear(data) // plain-text entries, if allowed, are in it
	next.id = id
	if err != nil {
		// Tried again when the identity changes or the interval has
		// passed, not on every request while the file settles.
		next.settled, next.retryAt = true, start.Add(retryInterval)
		return &next, err
	}
	next.settled = id.settled(start)
	sum := sha256.Sum256(data)
	if prev.tab != nil && sum == prev.sum {
		return &next, nil
	}
	next.sum = sum
	users, problems := parse(data, a.opts.AllowPlaintext)
	if len(users) == 0 {
		if len(problems) == 0 {
			return &next, fmt.Errorf("%s: %w: no entry", path, errUnusable)
		}
		return &next, fmt.Errorf("%s: %w: no usable entry: %w", path, errUnusable, summarize(problems, 10))
	}
	for _, p := range problems {
		a.log.Error(p, "password file line ignored", "path", path)
	}
	next.tab = &table{users: users, cache: newCache(), dummy: dummyFor(users, prev.tab)}
	a.Stats.Reloads.Add(1)
	a.log.Info("password file loaded", "path", path, "users", len(users),
		"dummyScheme", next.tab.dummy.params().scheme)
	return &next, nil
}

// readFile returns the file's content and the identity of the file read.
// tried is what stat said of the path just before. An error comes with the
// identity of what was tried, so that the next request tries again only when
// that changes or the retry interval has passed, and with the zero identity
// where the file changed while it was read, so that the next request reads
// it again.
func readFile(path string, tried identity) ([]byte, identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, tried, err
	}
	defer f.Close()
	before, err := statFile(f)
	if err != nil {
		return nil, tried, err
	}
	if before.size > maxFileSize {
		return nil, before, fmt.Errorf("%s: larger than %d MiB; not a password file?", path, maxFileSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return data, before, fmt.Errorf("reading %s: %w", path, err)
	}
	if after, err := statFile(f); err != nil || after != before || len(data) > maxFileSize {
		return data, identity{}, fmt.Errorf("%s: %w", path, errTorn)
	}
	return data, before, nil
}

// dummyFor returns a hash of a random password under the scheme and cost
// most entries use, so that an unknown user costs what most users cost. With
// mixed costs the others stay distinguishable by timing; re-creating the odd
// entries at the common cost closes that.
func dummyFor(users map[string]entry, prev *table) verifier {
	count := map[params]int{}
	var best params
	var model verifier
	for _, e := range users {
		p := e.hash.params()
		count[p]++
		if model == nil || count[p] > count[best] || count[p] == count[best] && more(p, best) {
			best, model = p, e.hash
		}
	}
	if prev != nil && prev.dummy.params() == best {
		return prev.dummy
	}
	return model.twin()
}

// more orders params by cost, then by name, so that ties resolve the same
// way whatever the map's order.
func more(p, q params) bool {
	return cmp.Or(cmp.Compare(p.cost, q.cost), strings.Compare(p.scheme, q.scheme)) > 0
}
