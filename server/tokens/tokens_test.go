package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/policy"
)

func TestLifecycle(t *testing.T) {
	state := filepath.Join(t.TempDir(), ".pkgindex")
	s := New(state)
	alice := policy.Identity{Kind: policy.User, Name: "alice"}
	token, rec, err := s.Create(Record{Projects: []string{"acme-lib"}, Rights: []string{"upload"}, Owner: alice, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, Prefix) || len(token) != tokenLen {
		t.Fatalf("token %q has not the documented shape", token)
	}
	data, err := os.ReadFile(filepath.Join(state, "tokens", rec.ID+".json"))
	if err != nil || strings.Contains(string(data), token[len(Prefix)+idLen+1:]) {
		t.Fatalf("the record holds the secret or is missing: %v", err)
	}
	// Another store on the same directory, as another replica.
	other := New(state)
	got, err := other.Check(token)
	if err != nil || got.ID != rec.ID || got.Owner.String() != alice.String() {
		t.Fatalf("Check on another store: %+v %v", got, err)
	}
	if !got.Allows(policy.Upload, "acme-lib") || got.Allows(policy.Upload, "other") || got.Allows(policy.Yank, "acme-lib") {
		t.Error("the token's scope is not what it was made with")
	}
	wrong := token[:len(token)-1] + "A"
	if token[len(token)-1] == 'A' {
		wrong = token[:len(token)-1] + "B"
	}
	for _, tc := range []struct {
		name, token string
	}{
		{"wrong secret", wrong},
		{"short", token[:len(token)-1]},
		{"other prefix", "pypi-" + token[len(Prefix):]},
		{"unknown id", Prefix + "0123456789abcdef" + token[len(Prefix)+idLen:]},
		{"path in the id", Prefix + "../../../etc/pa" + token[len(Prefix)+idLen-1:]},
		{"empty", ""},
	} {
		if _, err := other.Check(tc.token); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Check = %v, want ErrInvalid", tc.name, err)
		}
	}
	list, err := other.List()
	if err != nil || len(list) != 1 || list[0].ID != rec.ID {
		t.Fatalf("List: %+v %v", list, err)
	}
	if id, err := ParseID(token); err != nil || id != rec.ID {
		t.Errorf("ParseID(token) = %q %v", id, err)
	}
	if err := other.Recheck(got); err != nil {
		t.Errorf("Recheck of a valid token: %v", err)
	}
	if err := New(state).Revoke(rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := other.Recheck(got); !errors.Is(err, ErrInvalid) {
		t.Errorf("Recheck after revocation: %v, want ErrInvalid", err)
	}
	if _, err := other.Check(token); !errors.Is(err, ErrInvalid) {
		t.Errorf("a revoked token: Check = %v, want ErrInvalid", err)
	}
	if err := other.Revoke(rec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking twice: %v, want ErrNotFound", err)
	}
}

func TestRedact(t *testing.T) {
	token := Prefix + "0123456789abcdef-" + strings.Repeat("s", secretLen)
	for _, tc := range []struct{ in, want string }{
		{"/api/tokens/" + token, "/api/tokens/" + Prefix + "0123456789abcdef-REDACTED"},
		{token + "/" + token, Prefix + "0123456789abcdef-REDACTED/" + Prefix + "0123456789abcdef-REDACTED"},
		{"/simple/pkgindex-x/", "/simple/pkgindex-x/"},
		{"/simple/lib/", "/simple/lib/"},
		{"pkgindex-", "pkgindex-"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	s := New(t.TempDir())
	token, _, err := s.Create(Record{Rights: []string{"upload"}, Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := s.Check(token); !errors.Is(err, ErrExpired) {
		t.Errorf("Check after expiry = %v, want ErrExpired", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("List shows an expired token")
	}
	if n, _ := s.Clean(); n != 0 {
		t.Errorf("Clean removed a token expired less than a day ago")
	}
	s.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if n, _ := s.Clean(); n != 1 {
		t.Errorf("Clean removed %d records, want the one expired a day ago", n)
	}
}

func TestParseExpiry(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"90d", 90 * 24 * time.Hour}, {"12h", 12 * time.Hour}, {"30m", 30 * time.Minute}, {"0d", 0}, {"400d", 0}, {"x", 0}, {"30s", 0}} {
		got, err := ParseExpiry(tc.in)
		if got != tc.want || (err == nil) != (tc.want != 0) {
			t.Errorf("ParseExpiry(%q) = %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzCheck feeds Check any password: it never panics, and without a
// record nothing is a valid token.
func FuzzCheck(f *testing.F) {
	s := New(f.TempDir())
	token, _, err := s.Create(Record{Rights: []string{"upload"}, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token)
	f.Add(Prefix + "0123456789abcdef-" + strings.Repeat("A", secretLen))
	f.Add(Prefix + "../../../../etc/-x")
	f.Fuzz(func(t *testing.T, password string) {
		rec, err := s.Check(password)
		if err == nil && password != token {
			t.Fatalf("Check(%q) accepted another token's record %s", password, rec.ID)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Check(%q): %v, want ErrInvalid", password, err)
		}
	})
}
