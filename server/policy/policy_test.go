package policy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
)

const sample = `
grants:
  - projects: ["*"]
    rights: [download, list]
    anyone: true
  - projects: ["*"]
    rights: ["*"]
    users: [admin]
  - projects: [Acme_Lib, "acme-*"]
    rights: [upload, yank]
    users: [alice]
    namespaces: [ci]
  - projects: [acme-secret]
    rights: [download]
    users: [alice]
  - projects: [acme-lib]
    rights: [remove]
    serviceAccounts: [ci/builder]
  - projects: ["acme-*"]
    rights: [upload]
    publishers: [acme-release]
publishers:
  - name: acme-release
    issuer: https://token.actions.githubusercontent.com
    claims: {repository: acme/lib}
`

func TestDecide(t *testing.T) {
	p, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	alice := Identity{Kind: User, Name: "alice"}
	builder := Identity{Kind: ServiceAccount, Name: "system:serviceaccount:ci:builder", Groups: []string{"ci"}}
	other := Identity{Kind: ServiceAccount, Name: "system:serviceaccount:web:app", Groups: []string{"web"}}
	pub := Identity{Kind: Publisher, Name: "acme-release", Groups: []string{"acme-release"}}
	for _, tc := range []struct {
		name    string
		id      Identity
		right   Right
		project string
		want    bool
		reason  string
	}{
		{"anyone reads", Identity{Kind: Anonymous}, Download, "acme-lib", true, "grant 1"},
		{"anyone lists the index", Identity{Kind: Anonymous}, List, "", true, "grant 1"},
		{"anyone may not upload", Identity{Kind: Anonymous}, Upload, "acme-lib", false, "gives anonymous only download,list"},
		{"admin does all", Identity{Kind: User, Name: "admin"}, Status, "whatever", true, "grant 2"},
		{"alice uploads by exact name", alice, Upload, "acme-lib", true, "grant 3"},
		{"alice uploads by pattern", alice, Yank, "acme-tools", true, ""},
		{"alice may not remove", alice, Remove, "acme-lib", false, "grant 1+3, the most specific for acme-lib, gives user alice only upload,yank,download,list"},
		{"a specific grant narrows a broad one", alice, Upload, "acme-secret", false, "grant 1+4, the most specific for acme-secret, gives user alice only download,list"},
		{"the narrowed grant still gives its right", alice, Download, "acme-secret", true, "grant 1+4"},
		{"a pattern is not a prefix", alice, Upload, "acme", false, ""},
		{"user unknown to the policy", Identity{Kind: User, Name: "bob"}, Upload, "acme-lib", false, ""},
		{"namespace grant", builder, Upload, "acme-lib", true, "grant 3"},
		{"a service account's grant adds to its namespace's", builder, Remove, "acme-lib", true, "grant 5"},
		{"other namespace refused", other, Upload, "acme-lib", false, ""},
		{"a user named like a service account is not one", Identity{Kind: User, Name: "system:serviceaccount:ci:builder"}, Remove, "acme-lib", false, ""},
		{"publisher", pub, Upload, "acme-tools", true, "grant 6"},
		{"publisher outside its projects", pub, Upload, "other", false, ""},
		{"publisher named like a user is not one", Identity{Kind: User, Name: "acme-release"}, Upload, "acme-tools", false, ""},
		{"tokens get nothing of their own", Identity{Kind: Token, Name: "alice"}, Upload, "acme-lib", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.id, tc.right, tc.project)
			if d.Allowed != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Decide(%s, %s, %q) = %v %q; want %v with %q", tc.id, tc.right, tc.project, d.Allowed, d.Reason, tc.want, tc.reason)
			}
		})
	}
	if !p.UsesServiceAccounts() {
		t.Error("UsesServiceAccounts() = false for a policy naming a namespace")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown right", `grants: [{projects: ["*"], rights: [publish], users: [a]}]`, `unknown right "publish"`},
		{"unknown field", `grants: [{projects: ["*"], rights: [upload], user: [a]}]`, "field user not found"},
		{"syntax error", "grants: [", "yaml"},
		{"no projects", `grants: [{rights: [upload], users: [a]}]`, "no projects"},
		{"no rights", `grants: [{projects: [x], rights: [], users: [a]}]`, "no rights"},
		{"nobody", `grants: [{projects: [x], rights: [upload]}]`, "names nobody"},
		{"bad pattern", `grants: [{projects: ["a/b"], rights: [upload], users: [a]}]`, "only letters"},
		{"bad service account", `grants: [{projects: [x], rights: [upload], serviceAccounts: [builder]}]`, "want <namespace>/<name>"},
		{"unknown publisher", `grants: [{projects: [x], rights: [upload], publishers: [gh]}]`, `publisher "gh" is not among`},
		{"publisher without claims", "publishers: [{name: gh, issuer: 'https://x'}]", "at least one claim rule"},
		{"publisher without issuer URL", "publishers: [{name: gh, issuer: x, claims: {a: b}}]", "issuer must be"},
		{"one issuer, two key sources", "publishers: [{name: a, issuer: 'https://x', claims: {a: b}}, {name: b, issuer: 'https://x', claims: {a: c}, jwksFile: /k}]", "the same jwksURL"},
		{"two key sources", "publishers: [{name: gh, issuer: 'https://x', claims: {a: b}, jwksURL: 'https://x/k', jwksFile: /k}]", "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	p, err := Parse([]byte(`{"audience": "idx", "grants": [{"projects": ["*"], "rights": ["list"], "anyone": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Audience() != "idx" || !p.Decide(Identity{Kind: Anonymous}, List, "x").Allowed {
		t.Errorf("JSON policy not read as written")
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"abc", "abc", true}, {"abc", "abcd", false},
		{"a*", "a", true}, {"a*", "ba", false}, {"*c", "abc", true}, {"*c", "abcd", false},
		{"a*c*e", "abcde", true}, {"a*c*e", "ace", true}, {"a*c*e", "acd", false},
		{"refs/tags/*", "refs/tags/v1.0", true}, {"refs/tags/*", "refs/heads/main", false},
		{"a*a", "a", false},
	} {
		if got := Match(tc.pat, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestWatcherReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		// Times in the past make the content settled, as a file
		// written a while ago is.
		old := time.Now().Add(-age)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(path, logr.Discard()); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	write(`grants: [{projects: ["*"], rights: [upload], users: [alice]}]`, time.Hour)
	w, err := Load(path, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	alice := Identity{Kind: User, Name: "alice"}
	bob := Identity{Kind: User, Name: "bob"}
	if !w.Current().Decide(alice, Upload, "x").Allowed {
		t.Fatal("alice refused by the first policy")
	}
	write(`grants: [{projects: ["*"], rights: [upload], users: [bob]}]`, time.Minute)
	if p := w.Current(); p.Decide(alice, Upload, "x").Allowed || !p.Decide(bob, Upload, "x").Allowed {
		t.Fatal("a changed policy file was not put in force")
	}
	write(`grants: [{projects: ["*"], rights: [upload, frobnicate], users: [carol]}]`, 0)
	if p := w.Current(); !p.Decide(bob, Upload, "x").Allowed {
		t.Fatal("a policy with an unknown right replaced the one in force")
	}
	if w.ReloadErrors.Load() == 0 {
		t.Error("the refused policy was not counted")
	}
	// Written again within the settle guard with the same size and
	// times, a new content is still noticed.
	write(`grants: [{projects: ["*"], rights: [upload], users: [carl]}]`, 0)
	if p := w.Current(); !p.Decide(Identity{Kind: User, Name: "carl"}, Upload, "x").Allowed {
		t.Fatal("a fixed policy file was not put in force")
	}
}

// FuzzMatch compares Match with a regular expression of the same pattern.
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{{"*", ""}, {"a*c*e", "abcde"}, {"a*a", "a"}, {"refs/tags/*", "refs/tags/v1"}, {"**", "x"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // policies are YAML and claims JSON: text
		}
		pieces := strings.Split(pattern, "*")
		for i, p := range pieces {
			pieces[i] = regexp.QuoteMeta(p)
		}
		want := regexp.MustCompile(`^(?s:` + strings.Join(pieces, ".*") + `)$`).MatchString(s)
		if got := Match(pattern, s); got != want {
			t.Fatalf("Match(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}

// FuzzParse feeds Parse any file: it refuses or gives a policy whose
// decisions can be asked for.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"grants": [{"projects": ["*"], "rights": ["list"], "anyone": true}]}`))
	f.Add([]byte("grants: [{projects: [A_b.*], rights: ['*'], serviceAccounts: [system:serviceaccount:a:b]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		for _, id := range []Identity{{Kind: Anonymous}, {Kind: User, Name: "alice"}, {Kind: ServiceAccount, Name: "system:serviceaccount:a:b", Groups: []string{"a"}}} {
			if d := p.Decide(id, Upload, "acme-lib"); d.Reason == "" {
				t.Fatalf("a decision without a reason: %+v", d)
			}
		}
	})
}
