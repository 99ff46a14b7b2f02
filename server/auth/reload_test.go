package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// secretVolume lays out a directory the way the kubelet updates a Secret
// volume: the keys in a new timestamped hidden directory, a "..data_tmp"
// symbolic link to it renamed over "..data" (the one atomic step), each key
// a symbolic link through "..data", and the old directory removed after.
type secretVolume struct {
	dir string
	n   int
	cur string
}

func newSecretVolume(t testing.TB, content string) *secretVolume {
	t.Helper()
	v := &secretVolume{dir: t.TempDir()}
	v.publish(t, content)
	if err := os.Symlink(filepath.Join("..data", "htpasswd"), v.path()); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *secretVolume) path() string { return filepath.Join(v.dir, "htpasswd") }

func (v *secretVolume) publish(t testing.TB, content string) {
	t.Helper()
	if err := v.tryPublish(content); err != nil {
		t.Fatal(err)
	}
}

// tryPublish is publish for goroutines other than the test's.
func (v *secretVolume) tryPublish(content string) error {
	v.n++
	ts := fmt.Sprintf("..2026_01_02_03_04_05.%09d", v.n)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(v.dir, ts, "htpasswd"), []byte(content), 0o644); err != nil {
		return err
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		return err
	}
	if v.cur != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, v.cur)); err != nil {
			return err
		}
	}
	v.cur = ts
	return nil
}

// bcryptLine returns an htpasswd line for user and password, made now.
func bcryptLine(t testing.TB, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}

func mustCheck(t testing.TB, a *Authenticator, user, password string) {
	t.Helper()
	if got, err := a.Check(request(basicAuth(user, password)), Update); got != user || err != nil {
		t.Fatalf("%s/%s: Check = %q, %v; want it accepted", user, password, got, err)
	}
}

func mustRefuse(t testing.TB, a *Authenticator, user, password string) {
	t.Helper()
	if _, err := a.Check(request(basicAuth(user, password)), Update); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("%s/%s: Check = %v; want ErrUnauthorized", user, password, err)
	}
}

// TestSecretVolumeUpdate replaces the file as a Secret volume does: the new
// password works on the very next check and the old one, though remembered
// in the cache, fails.
func TestSecretVolumeUpdate(t *testing.T) {
	v := newSecretVolume(t, bcryptLine(t, "alice", "old")+bcryptLine(t, "bob", "same"))
	a := newAuth(t, Options{Passwords: v.path(), Actions: DefaultActions})
	mustCheck(t, a, "alice", "old")
	mustCheck(t, a, "alice", "old") // now from the cache
	if a.Stats.CacheHits.Load() != 1 {
		t.Fatalf("%d cache hits", a.Stats.CacheHits.Load())
	}

	v.publish(t, bcryptLine(t, "alice", "new")+bcryptLine(t, "bob", "same"))
	mustCheck(t, a, "alice", "new")
	mustRefuse(t, a, "alice", "old")
	mustCheck(t, a, "bob", "same")

	v.publish(t, bcryptLine(t, "bob", "same")) // alice removed
	mustRefuse(t, a, "alice", "new")
	if n := a.Stats.Reloads.Load(); n != 3 {
		t.Errorf("%d loads, want 3", n)
	}
}

// TestInvalidReplacementKeepsOld checks that a replacement without a usable
// entry, or a path that leads nowhere, leaves the previous entries in force,
// and that the next good file is taken.
func TestInvalidReplacementKeepsOld(t *testing.T) {
	v := newSecretVolume(t, bcryptLine(t, "alice", "pw"))
	a := newAuth(t, Options{Passwords: v.path(), Actions: DefaultActions})
	mustCheck(t, a, "alice", "pw")

	for _, bad := range []string{"", "# all gone\n", "alice\n", "alice:pw\n", "alice:$2y$04$short\n"} {
		v.publish(t, bad)
		mustCheck(t, a, "alice", "pw")
		mustCheck(t, a, "alice", "pw")
		mustRefuse(t, a, "alice", "wrong")
	}
	if n := a.Stats.ReloadErrors.Load(); n != 5 {
		t.Errorf("%d reload errors, want one per bad file (5)", n)
	}

	// The link leads nowhere: the data directory is gone.
	if err := os.Remove(filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, a, "alice", "pw")

	v.publish(t, bcryptLine(t, "alice", "next"))
	mustCheck(t, a, "alice", "next")
	mustRefuse(t, a, "alice", "pw")
}

// TestUnreadableFileIsRetried checks that a read error is tried again after
// the retry interval even though the file did not change.
func TestUnreadableFileIsRetried(t *testing.T) {
	path := writeFile(t, bcryptLine(t, "alice", "pw"))
	a := newAuth(t, Options{Passwords: path, Actions: DefaultActions})
	now := time.Now()
	a.now = func() time.Time { return now }

	hidden := path + ".away"
	if err := os.Rename(path, hidden); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, a, "alice", "pw")
	mustCheck(t, a, "alice", "pw")
	if n := a.Stats.ReloadErrors.Load(); n != 1 {
		t.Fatalf("%d reload errors; want 1: a missing file is not tried on every request", n)
	}
	now = now.Add(retryInterval)
	mustCheck(t, a, "alice", "pw")
	if n := a.Stats.ReloadErrors.Load(); n != 2 {
		t.Fatalf("%d reload errors; want 2 after the retry interval", n)
	}
	if err := os.Rename(hidden, path); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, a, "alice", "pw")
}

// TestRewriteInPlace rewrites the file in place with content of the same
// size, as htpasswd does when it changes a bcrypt password, at once: size
// and inode stay, and the times may too within one tick of the kernel's
// clock. The change must show on the next check all the same.
func TestRewriteInPlace(t *testing.T) {
	path := writeFile(t, bcryptLine(t, "alice", "one"))
	a := newAuth(t, Options{Passwords: path, Actions: DefaultActions})
	for _, pw := range []string{"two", "six", "ten"} {
		mustCheck(t, a, "alice", "one")
		line := bcryptLine(t, "alice", pw)
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, a, "alice", pw)
		mustRefuse(t, a, "alice", "one")
		if err := os.WriteFile(path, []byte(bcryptLine(t, "alice", "one")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSettledFileIsNotReread checks that the per-request cost is one stat
// once the file has settled.
func TestSettledFileIsNotReread(t *testing.T) {
	path := writeFile(t, bcryptLine(t, "alice", "pw"))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Options{Passwords: path, Actions: DefaultActions})
	a.now = func() time.Time { return time.Now().Add(settleGuard) } // the change time is now old enough
	mustCheck(t, a, "alice", "pw")
	st := a.state.Load()
	for range 10 {
		mustCheck(t, a, "alice", "pw")
	}
	if a.state.Load() != st {
		t.Error("a settled, unchanged file was read again")
	}
}

// TestConcurrentSwaps checks many requests in parallel with Secret volume
// updates, good and bad: a user whose password is the same in every good
// version is never refused, and every good version is seen.
func TestConcurrentSwaps(t *testing.T) {
	stay := bcryptLine(t, "stay", "pw")
	v := newSecretVolume(t, stay)
	a := newAuth(t, Options{Passwords: v.path(), Actions: DefaultActions})

	var (
		stop    atomic.Bool
		refused atomic.Int64
		checks  atomic.Int64
		wg      sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := a.Check(request(basicAuth("stay", "pw")), Update); err != nil {
					refused.Add(1)
				}
				checks.Add(1)
			}
		}()
	}
	swaps := 0
	for i := range 60 {
		content := stay + bcryptLine(t, fmt.Sprintf("user%d", i), "x")
		switch i % 4 {
		case 1:
			content = "garbage\n" // no usable entry: the previous one stays
		case 2:
			content = bcryptLine(t, "other", "y") + stay // the same user, hashed anew
		}
		v.publish(t, content)
		swaps++
		time.Sleep(time.Millisecond)
		if i%4 == 3 {
			// This version's new user works at once.
			mustCheck(t, a, fmt.Sprintf("user%d", i), "x")
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Errorf("stay refused %d times in %d checks over %d swaps", n, checks.Load(), swaps)
	}
	t.Logf("%d checks over %d swaps, %d loads, %d refused files", checks.Load(), swaps, a.Stats.Reloads.Load(), a.Stats.ReloadErrors.Load())
}
