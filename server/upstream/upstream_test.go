package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/store"
)

func notLocal(context.Context, string, string) (bool, bool, error) { return false, false, nil }

// newTestUpstream serves one project, demo, with one file, from a PEP 503
// tree, and returns the cache in front of it with the count of downloads.
func newTestUpstream(t *testing.T, content []byte, opts Options) (*Upstream, *atomic.Int32) {
	t.Helper()
	var downloads atomic.Int32
	sum := sha256.Sum256(content)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/simple/demo/":
			fmt.Fprintf(w, `<a href="/f/demo-1.0.tar.gz#sha256=%x">demo-1.0.tar.gz</a>`, sum)
		case r.URL.Path == "/f/demo-1.0.tar.gz":
			downloads.Add(1)
			w.Write(content)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(up.Close)
	opts.URLs = []string{up.URL + "/simple/"}
	opts.Dir = t.TempDir()
	opts.TTL, opts.Log = time.Minute, logr.Discard()
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u, &downloads
}

func read(t *testing.T, u *Upstream, rel string) (string, error) {
	t.Helper()
	d, err := u.Open(t.Context(), rel, notLocal)
	if err != nil {
		return "", err
	}
	defer d.Close()
	var b strings.Builder
	buf := make([]byte, 1000)
	for {
		n, err := d.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if err.Error() == "EOF" {
				return b.String(), nil
			}
			return b.String(), err
		}
	}
}

// lockedUpstream is the test upstream with demo's page cached and its file
// locked, as another replica's fetch would leave it; it returns the lock.
func lockedUpstream(t *testing.T) (*Upstream, *atomic.Int32, string) {
	u, downloads := newTestUpstream(t, []byte("the file"), Options{})
	if _, err := u.Page(t.Context(), "demo", ""); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(u.opts.Dir, "files", "demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, ".demo-1.0.tar.gz.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return u, downloads, lock
}

// TestStaleLock: a lock left by a replica killed mid-fetch, which nothing
// renews, is taken over once it has not changed for lockStale.
func TestStaleLock(t *testing.T) {
	defer func(stale, poll time.Duration) { lockStale, lockPoll = stale, poll }(lockStale, lockPoll)
	lockStale, lockPoll = 300*time.Millisecond, 10*time.Millisecond
	// What kill -9 leaves: the lock and a partial temporary file.
	u, downloads, lock := lockedUpstream(t)
	if err := os.WriteFile(filepath.Join(u.opts.Dir, "tmp", "file-123"), []byte("the f"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := read(t, u, "demo/demo-1.0.tar.gz")
	if err != nil || got != "the file" || downloads.Load() != 1 {
		t.Fatalf("got %q %v after %d downloads", got, err, downloads.Load())
	}
	if _, err := os.Stat(lock); err == nil {
		t.Errorf("the lock was left behind")
	}
	u.CleanTemp(0)
	if ents, _ := os.ReadDir(filepath.Join(u.opts.Dir, "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestEviction: past the size limit the least recently used cached files
// go, and nothing else under the cache does.
func TestEviction(t *testing.T) {
	u, _ := newTestUpstream(t, []byte("0123456789"), Options{CacheSize: 25})
	files := filepath.Join(u.opts.Dir, "files")
	old := time.Now().Add(-48 * time.Hour)
	for i, name := range []string{"a/a-1.0.tar.gz", "b/b-1.0.tar.gz", "c/c-1.0.tar.gz"} {
		p := filepath.Join(files, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		at := old.Add(time.Duration(i) * time.Hour)
		os.Chtimes(p, at, at)
	}
	os.WriteFile(filepath.Join(files, "a", ".a-1.0.tar.gz.lock"), []byte("0123456789"), 0o644)
	u.Sweep()
	for name, kept := range map[string]bool{"a/a-1.0.tar.gz": false, "b/b-1.0.tar.gz": true, "c/c-1.0.tar.gz": true, "a/.a-1.0.tar.gz.lock": true} {
		if _, err := os.Stat(filepath.Join(files, name)); (err == nil) != kept {
			t.Errorf("%s kept %v, want %v", name, err == nil, kept)
		}
	}
	if u.Stats.Evicted.Load() != 1 {
		t.Errorf("evicted %d", u.Stats.Evicted.Load())
	}
}

func TestCredentials(t *testing.T) {
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pw, _ := r.BasicAuth()
		got.Store(user + ":" + pw)
		http.NotFound(w, r)
	}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(path, []byte("# comment\nany:one\n"+up.URL+"/simple alice:s3:cret\n"), 0o600)
	creds, err := ReadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{URLs: []string{up.URL + "/simple/"}, Credentials: creds, Dir: t.TempDir(), Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Page(t.Context(), "x", "")
	if got.Load() != "alice:s3:cret" {
		t.Errorf("sent %v", got.Load())
	}
	os.WriteFile(path, []byte("alice s3cret\n"), 0o600)
	if _, err := ReadCredentials(path); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad line: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://pypi.org/simple/", true},
		{"http://127.0.0.1:8080/simple", true},
		{"https://alice:s3cret@example.com/simple/", false},
		{"ftp://example.com/", false},
		{"pypi.org/simple", false},
	} {
		err := CheckURL(tc.url)
		if (err == nil) != tc.ok || err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckURL(%q) = %v", tc.url, err)
		}
	}
}

// TestSlowLock: a lock that another replica keeps renewing is waited for
// only lockWait; then this replica fetches the file itself and leaves the
// other's lock alone.
func TestSlowLock(t *testing.T) {
	defer func(wait, poll time.Duration) { lockWait, lockPoll = wait, poll }(lockWait, lockPoll)
	lockWait, lockPoll = 300*time.Millisecond, 10*time.Millisecond
	u, downloads, lock := lockedUpstream(t)
	done := make(chan struct{})
	defer close(done)
	go func() { // the other replica, alive
		for i := 0; ; i++ {
			at := time.Unix(int64(1e9+i), 0)
			os.Chtimes(lock, at, at)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	got, err := read(t, u, "demo/demo-1.0.tar.gz")
	if err != nil || got != "the file" || downloads.Load() != 1 {
		t.Fatalf("got %q %v after %d downloads", got, err, downloads.Load())
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("the other replica's lock was removed: %v", err)
	}
}

// TestPageAcrossReplicas: two caches on one directory, as two replicas on
// one volume. What one publishes, the other's next request serves, even a
// page rewritten within one modification-time tick at the same size, as a
// file server with coarse timestamps leaves it.
func TestPageAcrossReplicas(t *testing.T) {
	var page atomic.Pointer[string]
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/simple/demo/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, *page.Load())
	}))
	defer up.Close()
	links := func(version string) {
		s := fmt.Sprintf(`<a href="/f/demo-%[1]s.tar.gz">demo-%[1]s.tar.gz</a>`, version)
		page.Store(&s)
	}
	dir := t.TempDir()
	replica := func(ttl time.Duration) *Upstream {
		u, err := New(Options{URLs: []string{up.URL + "/simple/"}, Dir: dir, TTL: ttl, Log: logr.Discard()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Close)
		return u
	}
	// The writer revalidates on every request; the reader never does by
	// itself, so all it knows is what the volume holds.
	writer, reader := replica(0), replica(time.Hour)
	served := func(u *Upstream) string {
		t.Helper()
		p, err := u.Page(t.Context(), "demo", "")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range p.Files {
			names = append(names, f.Filename)
		}
		return strings.Join(names, " ")
	}
	links("1.0")
	served(writer)
	if got := served(reader); got != "demo-1.0.tar.gz" {
		t.Fatalf("the reader serves %q", got)
	}
	pagePath := writer.pagePath("demo")

	for _, tc := range []struct {
		name    string
		version string
		// rewrite publishes the page with version on the writer.
		rewrite func(t *testing.T, version string)
	}{
		{"revalidated", "2.0", func(t *testing.T, version string) {
			links(version)
			served(writer)
		}},
		{"same tick, same size", "3.0", func(t *testing.T, version string) {
			before, err := os.Stat(pagePath)
			if err != nil {
				t.Fatal(err)
			}
			l, err := writer.load("demo")
			if err != nil {
				t.Fatal(err)
			}
			rec := *l.rec
			rec.Files = []entry{rec.Files[0]}
			old := rec.Files[0].Filename
			rec.Files[0].Filename = "demo-" + version + ".tar.gz"
			rec.Files[0].URL = strings.Replace(rec.Files[0].URL, old, rec.Files[0].Filename, 1)
			if _, err := writer.save("demo", &rec); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(pagePath, before.ModTime(), before.ModTime()); err != nil {
				t.Fatal(err)
			}
			after, err := os.Stat(pagePath)
			if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
				t.Fatalf("the rewrite changed the size or the time: %v, %v", before, after)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rewrite(t, tc.version)
			if got, want := served(reader), "demo-"+tc.version+".tar.gz"; got != want {
				t.Errorf("the reader serves %q after the writer published %q", got, want)
			}
		})
	}
}

// TestOneRefreshAcrossReplicas: two replicas that find a page missing (or
// expired) at once ask the upstream once; the second waits for the first's
// page and serves it.
func TestOneRefreshAcrossReplicas(t *testing.T) {
	defer func(poll time.Duration) { lockPoll = poll }(lockPoll)
	lockPoll = 10 * time.Millisecond
	var asked atomic.Int32
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		arrived <- struct{}{}
		<-release
		fmt.Fprint(w, `<a href="/f/demo-1.0.tar.gz">demo-1.0.tar.gz</a>`)
	}))
	defer up.Close()
	dir := t.TempDir()
	pages := make(chan string, 2)
	for range 2 {
		u, err := New(Options{URLs: []string{up.URL + "/simple/"}, Dir: dir, TTL: time.Hour, Log: logr.Discard()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Close)
		go func() {
			p, err := u.Page(context.Background(), "demo", "")
			if err != nil {
				pages <- err.Error()
				return
			}
			pages <- p.Files[0].Filename + " " + p.State
		}()
		if len(pages) == 0 && asked.Load() == 0 {
			<-arrived // the first replica holds the lock and asks
		}
	}
	// The second replica, were it not waiting for the first, would ask
	// the upstream too: give it the time to.
	select {
	case <-arrived:
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	got := []string{<-pages, <-pages}
	slices.Sort(got)
	if want := []string{"demo-1.0.tar.gz fetched", "demo-1.0.tar.gz hit"}; !slices.Equal(got, want) || asked.Load() != 1 {
		t.Errorf("got %q after %d upstream requests, want %q after 1", got, asked.Load(), want)
	}
}

// An upstream that answers 304 to a request that sent no validators has
// no page to keep: an error for that request, and the server goes on.
func TestNotModifiedUnasked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}))
	defer srv.Close()
	u, err := New(Options{URLs: []string{srv.URL + "/simple/"}, Dir: t.TempDir(), Log: logr.Discard(), TTL: DefaultTTL})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Page(context.Background(), "acme", "sha256"); err == nil || !strings.Contains(err.Error(), "304") {
		t.Errorf("a 304 for a first fetch: %v", err)
	}
	if _, err := (&Lister{u: u}).Files(context.Background(), "acme"); err == nil {
		t.Error("the lister took a 304 for a page")
	}
}

// A name no project can have is never asked of the upstream, and leaves
// nothing on the volume.
func TestPageOfInvalidName(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	u, err := New(Options{URLs: []string{srv.URL + "/simple/"}, Dir: dir, Log: logr.Discard(), TTL: DefaultTTL})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, name := range []string{"a/b", "..", "a b", "a%2fb", "-x", strings.Repeat("a", 201), "Upper"} {
		if _, err := u.Page(context.Background(), name, "sha256"); err != ErrNotFound {
			t.Errorf("%q: %v, want ErrNotFound", name, err)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the upstream was asked %d times", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "pages")); len(entries) != 0 {
		t.Errorf("page records written: %v", entries)
	}
}

// The parsed pages a replica keeps stay within maxLoadedBytes, however
// large each is.
func TestLoadedPagesBounded(t *testing.T) {
	u := &Upstream{loaded: map[string]*loaded{}}
	for i := range 40 {
		u.remember(fmt.Sprintf("p%d", i), &loaded{rec: &record{}, stat: store.FileStat{Ino: uint64(i), Size: 10 << 20}})
		var sum int64
		for _, l := range u.loaded {
			sum += l.stat.Size
		}
		if sum != u.loadedBytes || sum > maxLoadedBytes {
			t.Fatalf("after %d pages: %d bytes kept, counted %d, bound %d", i+1, sum, u.loadedBytes, maxLoadedBytes)
		}
	}
	// The same name again replaces its page, not adds to it.
	u.remember("p39", &loaded{rec: &record{}, stat: store.FileStat{Ino: 99, Size: 1}})
	if l := u.loaded["p39"]; l == nil || l.stat.Size != 1 {
		t.Errorf("p39: %+v", l)
	}
}

// TestSweepNotFound: the record of a name no upstream had goes once nobody
// asked for it in notFoundKept; pages, and not-found records still in use,
// stay.
func TestSweepNotFound(t *testing.T) {
	u, _ := newTestUpstream(t, []byte("0123456789"), Options{})
	for _, name := range []string{"gone", "recent"} {
		if _, err := u.Page(t.Context(), name, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("page of %s: %v, want not found", name, err)
		}
	}
	if _, err := u.Page(t.Context(), "demo", ""); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * notFoundKept)
	for _, name := range []string{"gone", "demo"} {
		p := u.pagePath(name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		rec.Fetched = old
		if _, err := u.save(name, &rec); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	u.Sweep()
	for name, kept := range map[string]bool{"gone": false, "recent": true, "demo": true} {
		if _, err := os.Stat(u.pagePath(name)); (err == nil) != kept {
			t.Errorf("record of %s kept %v, want %v", name, err == nil, kept)
		}
	}
	// Asked again, the name is looked up anew and recorded again.
	if _, err := u.Page(t.Context(), "gone", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("page of gone: %v", err)
	}
	if _, err := os.Stat(u.pagePath("gone")); err != nil {
		t.Errorf("not recorded again: %v", err)
	}
}
