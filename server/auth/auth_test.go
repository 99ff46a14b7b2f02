package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"pkgindex.dev/pkgindex/server/logging"
)

// users is a password file with one entry of each fast scheme; the
// passwords are in the comments.
const users = `# test users
alice:$apr1$f/iZUj3.$9sscSZ5Fh0ifhGqB4JwdN0
bob:$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe
carol:$5$rounds=1234$rZkEVDlJbzDcMPlq$QiQwZUQvBiFwnUqpo6StY9zG.ip2AjC2tRJTSf64wi5
dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
erin:hunter2
frank:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/
`

// Their passwords.
const (
	alicePW = "correct horse"
	bobPW   = "battery staple"
	carolPW = "pw:with:colons"
	davePW  = "password"
	erinPW  = "hunter2"
	frankPW = "password"
)

func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newAuth(t testing.TB, opts Options) *Authenticator {
	t.Helper()
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func request(authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/legacy/", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func TestCheck(t *testing.T) {
	a := newAuth(t, Options{Passwords: writeFile(t, users), Actions: Actions(Update | List)})
	for _, tc := range []struct {
		name    string
		header  string
		act     Action
		want    string // user; "" with wantErr nil: unprotected
		wantErr error
	}{
		{"apr1", basicAuth("alice", alicePW), Update, "alice", nil},
		{"bcrypt", basicAuth("bob", bobPW), Update, "bob", nil},
		{"sha256-crypt, colons in the password", basicAuth("carol", carolPW), Update, "carol", nil},
		{"sha1", basicAuth("dave", davePW), List, "dave", nil},
		{"md5-crypt", basicAuth("frank", frankPW), Update, "frank", nil},
		{"plain text refused by default", basicAuth("erin", erinPW), Update, "", ErrUnauthorized},
		{"wrong password", basicAuth("alice", "correct horse "), Update, "", ErrUnauthorized},
		{"password of another user", basicAuth("alice", bobPW), Update, "", ErrUnauthorized},
		{"unknown user", basicAuth("mallory", alicePW), Update, "", ErrUnauthorized},
		{"user name case matters", basicAuth("Alice", alicePW), Update, "", ErrUnauthorized},
		{"empty user", basicAuth("", alicePW), Update, "", ErrUnauthorized},
		{"empty password", basicAuth("alice", ""), Update, "", ErrUnauthorized},
		{"missing", "", Update, "", ErrUnauthorized},
		{"bearer", "Bearer abc.def.ghi", Update, "", ErrUnauthorized},
		{"digest", `Digest username="alice"`, Update, "", ErrUnauthorized},
		{"basic without credentials", "Basic", Update, "", ErrUnauthorized},
		{"basic, empty credentials", "Basic ", Update, "", ErrUnauthorized},
		{"bad base64", "Basic !!!not-base64!!!", Update, "", ErrUnauthorized},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), Update, "", ErrUnauthorized},
		{"scheme in lower case", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePW)), Update, "alice", nil},
		{"extra blanks", "Basic   " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePW)) + " ", Update, "alice", nil},
		{"unpadded base64", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("bob:"+bobPW)), Update, "bob", nil},
		{"password too long", basicAuth("carol", strings.Repeat("x", maxPassword+1)), Update, "", ErrUnauthorized},
		{"unprotected action, no credentials", "", Download, "", nil},
		{"unprotected action, wrong credentials", basicAuth("alice", "nope"), Download, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Check(request(tc.header), tc.act)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Check = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "mallory") {
				t.Errorf("the error names the user: %v", err)
			}
		})
	}
}

func TestPlaintextAllowed(t *testing.T) {
	a := newAuth(t, Options{Passwords: writeFile(t, users), Actions: DefaultActions, AllowPlaintext: true})
	if u, err := a.Check(request(basicAuth("erin", erinPW)), Update); u != "erin" || err != nil {
		t.Errorf("Check = %q, %v", u, err)
	}
	if _, err := a.Check(request(basicAuth("erin", "hunter")), Update); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong plain-text password: %v", err)
	}
}

func TestOptions(t *testing.T) {
	file := writeFile(t, users)
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"-P . -a .", Options{Passwords: ".", Actions: 0}, ""},
		{"-P . -a update", Options{Passwords: ".", Actions: DefaultActions}, "-a/--authenticate must be . too"},
		{"-P file -a .", Options{Passwords: file, Actions: 0}, "needs -P/--passwords . too"},
		{"no -P, -a .", Options{Actions: 0}, "needs -P/--passwords . too"},
		{"no -P, -a update", Options{Actions: DefaultActions}, ""},
		{"missing file", Options{Passwords: file + ".missing", Actions: DefaultActions}, "no such file"},
		{"directory", Options{Passwords: filepath.Dir(file), Actions: DefaultActions}, "is a directory"},
		{"empty file", Options{Passwords: writeFile(t, "# nobody\n"), Actions: DefaultActions}, "no entry"},
		{"no usable entry", Options{Passwords: writeFile(t, "x:plain\ny\n"), Actions: DefaultActions}, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Log = logr.Discard()
			_, err := New(tc.opts)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("New = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	a := newAuth(t, Options{Passwords: NoPasswords})
	if !a.Disabled() {
		t.Error("not disabled")
	}
	for _, act := range []Action{Update, Download, List} {
		if a.Protects(act) {
			t.Errorf("%v protected", act)
		}
		if u, err := a.Check(request(""), act); u != "" || err != nil {
			t.Errorf("%v: Check = %q, %v", act, u, err)
		}
	}
}

// TestNoPasswordFile is pypiserver without -P: protected actions are
// refused to everyone, with or without credentials.
func TestNoPasswordFile(t *testing.T) {
	a := newAuth(t, Options{Actions: DefaultActions})
	if a.Disabled() {
		t.Error("disabled")
	}
	for _, h := range []string{"", basicAuth("alice", alicePW)} {
		if _, err := a.Check(request(h), Update); !errors.Is(err, ErrForbidden) {
			t.Errorf("update with %q: %v, want ErrForbidden", h, err)
		}
	}
	if u, err := a.Check(request(""), Download); u != "" || err != nil {
		t.Errorf("download: %q, %v", u, err)
	}
}

func TestChallenge(t *testing.T) {
	w := httptest.NewRecorder()
	Challenge(w)
	if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="pypi"` {
		t.Errorf("WWW-Authenticate: %q", got)
	}
}

// countingVerifier wraps a dummy to count its use.
type countingVerifier struct {
	verifier
	mu    sync.Mutex
	calls int
}

func (c *countingVerifier) verify(password []byte) bool {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.verifier.verify(password)
}

// TestUnknownUserCostsTheSame checks the two halves of the timing argument:
// the dummy has the scheme and cost most entries have, and an unknown user
// is verified against it (a wrong password against the entry).
func TestUnknownUserCostsTheSame(t *testing.T) {
	file := writeFile(t, `a:$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe
b:$5$rounds=1234$rZkEVDlJbzDcMPlq$QiQwZUQvBiFwnUqpo6StY9zG.ip2AjC2tRJTSf64wi5
c:$5$rounds=1234$0123456789abcdef$Zn36wCiXtVKLQsl4EZaBU/Ag5FUHHzFRXevhCLkg7x/
d:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
`)
	a := newAuth(t, Options{Passwords: file, Actions: DefaultActions})
	tab := a.state.Load().tab
	if p := tab.dummy.params(); p != (params{"sha256-crypt", 1234}) {
		t.Fatalf("dummy params %+v, want the common sha256-crypt at 1234 rounds", p)
	}
	spy := &countingVerifier{verifier: tab.dummy}
	tab.dummy = spy
	before := a.Stats.Verifications.Load()
	if _, err := a.Check(request(basicAuth("nobody", "pw")), Update); !errors.Is(err, ErrUnauthorized) {
		t.Fatal(err)
	}
	if _, err := a.Check(request(basicAuth("b", "wrong")), Update); !errors.Is(err, ErrUnauthorized) {
		t.Fatal(err)
	}
	if spy.calls != 1 || a.Stats.Verifications.Load()-before != 2 {
		t.Errorf("dummy verified %d times, %d verifications; want 1 and 2", spy.calls, a.Stats.Verifications.Load()-before)
	}
}

func TestDummyIsDeterministicOnTies(t *testing.T) {
	for range 20 {
		users, _ := parse([]byte("a:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/\nb:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/\n"), false)
		if got := dummyFor(users, nil).params().scheme; got != "md5-crypt" {
			t.Fatalf("dummy scheme %q", got)
		}
	}
}

func TestCache(t *testing.T) {
	path := writeFile(t, users)
	a := newAuth(t, Options{Passwords: path, Actions: DefaultActions})
	for range 3 {
		if _, err := a.Check(request(basicAuth("bob", bobPW)), Update); err != nil {
			t.Fatal(err)
		}
	}
	if hits, v := a.Stats.CacheHits.Load(), a.Stats.Verifications.Load(); hits != 2 || v != 1 {
		t.Errorf("%d hits, %d verifications; want 2 and 1", hits, v)
	}
	// A cached success says nothing about other passwords or users.
	if _, err := a.Check(request(basicAuth("bob", bobPW+"x")), Update); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong password after a cached success: %v", err)
	}
	if _, err := a.Check(request(basicAuth("alice", bobPW)), Update); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("another user with a cached password: %v", err)
	}
	// The cache holds keys, never the password.
	tab := a.state.Load().tab
	for k := range tab.cache.keys {
		if strings.Contains(string(k[:]), bobPW) {
			t.Error("cache key holds the password")
		}
	}
	// The bound holds.
	for i := range cacheSize + 10 {
		tab.cache.add(a.key([]byte("u"), []byte{byte(i), byte(i >> 8)}))
	}
	if n := len(tab.cache.keys); n != cacheSize {
		t.Errorf("cache holds %d keys, want %d", n, cacheSize)
	}
}

// TestLogsQuoteNoSecret runs loads and refusals with debug logging on and
// checks that no password or hash reaches the log.
func TestLogsQuoteNoSecret(t *testing.T) {
	var mu sync.Mutex
	var out strings.Builder
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})
	path := writeFile(t, users+"zed:plain-secret-zed\nbroken-line-secret\n")
	a := newAuth(t, Options{Passwords: path, Actions: DefaultActions, Log: log})
	for _, h := range []string{basicAuth("alice", "typed-secret-1"), basicAuth("mallory", "typed-secret-2"), basicAuth("bob", bobPW), "Basic !!typed-secret-3"} {
		a.Check(request(h), Update)
	}
	if err := os.WriteFile(path, []byte("x:also-secret-plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Check(request(basicAuth("alice", alicePW)), Update)

	log.Info("end")
	got := out.String()
	for _, s := range []string{"typed-secret", "plain-secret-zed", "broken-line-secret", "also-secret-plain", bobPW, alicePW, "9sscSZ5Fh0", "hz2wCLpoaq", "QiQwZUQvBi", "W6ph5Mm5Pz"} {
		if strings.Contains(got, s) {
			t.Errorf("log holds %q:\n%s", s, got)
		}
	}
	for _, s := range []string{"password file loaded", "line 8 (user", "line 9:", "password file not reloaded", "request refused"} {
		if !strings.Contains(got, s) {
			t.Errorf("log lacks %q:\n%s", s, got)
		}
	}
}

func FuzzBasic(f *testing.F) {
	f.Add(basicAuth("alice", "pw:with:colons"))
	f.Add("basic YWxpY2U6")
	f.Add("Basic YWxpY2U")
	f.Add("Basic ====")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, header string) {
		var buf [16]byte
		user, password, err := basic(header, buf[:])
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error %v is not ErrUnauthorized", err)
			}
			return
		}
		if len(user) > maxUser || len(password) > maxPassword || strings.Contains(string(user), ":") {
			t.Fatalf("user %q, password of %d bytes", user, len(password))
		}
	})
}

// TestRefusedLoginsWarn checks that wrong credentials are logged at
// warning level, with the user name and the client's address, and that a
// request without credentials (every client's first try) is not.
func TestRefusedLoginsWarn(t *testing.T) {
	var out bytes.Buffer
	a := newAuth(t, Options{Passwords: writeFile(t, users), Actions: DefaultActions, Log: logging.New(&out, "text", "info")})
	for _, h := range []string{basicAuth("alice", "typed-secret-1"), basicAuth("mallory", "typed-secret-2"), "", basicAuth("bob", bobPW)} {
		r := request(h)
		r.RemoteAddr = "192.0.2.7:41000"
		a.Check(r, Update)
	}
	got := out.String()
	for _, s := range []string{
		`level=WARN msg="login refused" reason="wrong password" user=alice remote=192.0.2.7:41000 action=update`,
		`level=WARN msg="login refused" reason="unknown user" user=mallory remote=192.0.2.7:41000 action=update`,
	} {
		if !strings.Contains(got, s) {
			t.Errorf("log lacks %s:\n%s", s, got)
		}
	}
	if strings.Count(got, "WARN") != 2 || strings.Contains(got, "typed-secret") {
		t.Errorf("want exactly the two refusals, no password:\n%s", got)
	}
}
