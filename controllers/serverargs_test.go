package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server"
	"pkgindex.dev/pkgindex/server/upstream"
)

// parseServerArgs parses the arguments the operator gives an index pod with
// the server's own parser, as the operator's check does.
func parseServerArgs(t *testing.T, args []string) server.Config {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("arguments %q do not start with serve", args)
	}
	cfg, err := server.CheckFlags(args[1:], func(string) string { return "" })
	if err != nil {
		t.Errorf("pkgindex serve %s: %v", strings.Join(args[1:], " "), err)
	}
	return cfg
}

// checkServe is the operator's check in tests, as main wires it.
func checkServe(args []string, env func(string) string) ([]string, string, error) {
	c, err := server.CheckFlags(args, env)
	return c.Roots, c.Listen, err
}

// The arguments every golden case gives index pods are ones the server
// accepts: a flag renamed in one place and not the other would otherwise
// show only as pods crash-looping in a cluster.
func TestServerAcceptsTheArguments(t *testing.T) {
	s := crdSchema(t)
	for name, idx := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			// The files the operator mounts are read in
			// TestUpstreamFieldsReachTheConfig, which writes them.
			parseServerArgs(t, withoutOperatorFiles(serverArgs(defaulted(t, s, idx))))
		})
	}
}

// Each field of spec.server sets, through the arguments, the server's
// configuration field it means, with its value; the rest of the
// configuration stays at the server's defaults. A field of the API that
// the table does not name fails the test, so a new one cannot be
// forgotten.
func TestServerFieldsReachTheConfig(t *testing.T) {
	checkFieldsReachTheConfig(t, "server", func(idx *v1alpha1.PackageIndex) *v1alpha1.ServerSpec { return &idx.Spec.Server }, []fieldCase[v1alpha1.ServerSpec]{
		{"overwrite", func(s *v1alpha1.ServerSpec) { s.Overwrite = true },
			func(c server.Config) any { return c.Overwrite }, true, []string{"Overwrite"}},
		{"fallbackURL", func(s *v1alpha1.ServerSpec) { s.FallbackURL = "https://pypi.org/simple" },
			func(c server.Config) any { return c.FallbackURL }, "https://pypi.org/simple", []string{"FallbackURL"}},
		{"hashAlgorithm", func(s *v1alpha1.ServerSpec) { s.HashAlgorithm = "sha512" },
			func(c server.Config) any { return c.HashAlgo }, "sha512", []string{"HashAlgo"}},
		{"maxUploadSize", func(s *v1alpha1.ServerSpec) { s.MaxUploadSize = new(resource.MustParse("10Mi")) },
			func(c server.Config) any { return c.MaxUploadSize }, int64(10 << 20), []string{"MaxUploadSize"}},
		{"cacheControl", func(s *v1alpha1.ServerSpec) { s.CacheControl = new(int32(600)) },
			func(c server.Config) any { return c.CacheControl }, 600, []string{"CacheControl"}},
		{"logFormat", func(s *v1alpha1.ServerSpec) { s.LogFormat = "json" },
			func(c server.Config) any { return c.LogFormat }, "json", []string{"LogFormat"}},
		{"logLevel", func(s *v1alpha1.ServerSpec) { s.LogLevel = "debug" },
			func(c server.Config) any { return c.LogLevel }, "debug", []string{"LogLevel"}},
		// The builder writes per-project, the CRD's default, for an object
		// left undefaulted, so the field is seen by setting the other one.
		{"layout", func(s *v1alpha1.ServerSpec) { s.Layout = v1alpha1.LayoutAny },
			func(c server.Config) any { return c.Layout.String() }, "any", []string{"Layout"}},
		// The Secret is mounted at authDir; with auth set, the server reads
		// the password file there and protects updates.
		{"auth.secretName", func(s *v1alpha1.ServerSpec) { s.Auth = &v1alpha1.AuthSpec{SecretName: "users"} },
			func(c server.Config) any { return c.Passwords + " " + c.Authenticate.String() }, authDir + "/htpasswd update", []string{"Passwords"}},
		{"auth.key", func(s *v1alpha1.ServerSpec) { s.Auth = &v1alpha1.AuthSpec{SecretName: "users", Key: "passwd"} },
			func(c server.Config) any { return c.Passwords }, authDir + "/passwd", []string{"Passwords"}},
		{"auth.actions", func(s *v1alpha1.ServerSpec) {
			s.Auth = &v1alpha1.AuthSpec{SecretName: "users", Actions: []v1alpha1.AuthAction{v1alpha1.AuthList, v1alpha1.AuthUpdate}}
		}, func(c server.Config) any { return c.Authenticate.String() }, "update,list", []string{"Passwords", "Authenticate"}},
		// The policy is a file in a ConfigMap mounted at policyDir; its
		// content is the server's to read (TestPolicyConfigMap).
		{"policy.audience", func(s *v1alpha1.ServerSpec) { s.Policy = &v1alpha1.PolicySpec{Audience: "x"} },
			func(c server.Config) any { return c.Policy }, policyDir + "/" + policyKey, []string{"Policy"}},
		{"policy.grants", func(s *v1alpha1.ServerSpec) { s.Policy = &v1alpha1.PolicySpec{} },
			func(c server.Config) any { return c.Policy }, policyDir + "/" + policyKey, []string{"Policy"}},
		{"policy.publishers", func(s *v1alpha1.ServerSpec) { s.Policy = &v1alpha1.PolicySpec{} },
			func(c server.Config) any { return c.Policy }, policyDir + "/" + policyKey, []string{"Policy"}},
		{"writers", func(s *v1alpha1.ServerSpec) { s.Writers = []string{"alice", "bob"} },
			func(c server.Config) any { return c.Writers }, []string{"alice", "bob"}, []string{"Writers"}},
		// The ConfigMap is mounted at welcomeDir, one file per key.
		{"welcome.name", func(s *v1alpha1.ServerSpec) { s.Welcome = &v1alpha1.ConfigMapKeyRef{Name: "pages", Key: "index.html"} },
			func(c server.Config) any { return c.Welcome }, welcomeDir + "/index.html", []string{"Welcome"}},
		{"welcome.key", func(s *v1alpha1.ServerSpec) { s.Welcome = &v1alpha1.ConfigMapKeyRef{Name: "pages", Key: "welcome"} },
			func(c server.Config) any { return c.Welcome }, welcomeDir + "/welcome", []string{"Welcome"}},
		{"serverBaseURL", func(s *v1alpha1.ServerSpec) { s.ServerBaseURL = "/pypi/" },
			func(c server.Config) any { return c.BaseURL }, "/pypi", []string{"BaseURL"}},
		{"extraRoots", func(s *v1alpha1.ServerSpec) {
			s.ExtraRoots = []v1alpha1.ExtraRoot{{Name: "old", ClaimName: "old-packages"}, {Name: "more", ClaimName: "x"}}
		}, func(c server.Config) any { return c.Roots }, []string{dataDir, extraRootsDir + "/old", extraRootsDir + "/more"}, []string{"Roots"}},
		{"extraArgs", func(s *v1alpha1.ServerSpec) { s.ExtraArgs = []string{"--storage-timeout=30s", "--trust-proxy"} },
			func(c server.Config) any { return fmt.Sprint(c.StorageTimeout, c.TrustProxy) }, "30s true", []string{"StorageTimeout", "TrustProxy"}},
		// The environment reaches the container, not the arguments; its
		// effect is checked by TestServerArgsProblem.
		{"env", func(s *v1alpha1.ServerSpec) { s.Env = []corev1.EnvVar{{Name: "PKGINDEX_TRUST_PROXY", Value: "true"}} },
			func(c server.Config) any { return c.TrustProxy }, false, nil},
	}, nil)
}

// The same for spec.upstream. The credentials in the Secret reach the
// server's environment (a Secret's value is shown here as secret:KEY);
// the mounted files are written where the pod would have them, below a
// temporary directory.
func TestUpstreamFieldsReachTheConfig(t *testing.T) {
	up := func(idx *v1alpha1.PackageIndex) *v1alpha1.UpstreamSpec {
		if idx.Spec.Upstream == nil {
			idx.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}}
		}
		return idx.Spec.Upstream
	}
	in := []string{"Upstream"}
	checkFieldsReachTheConfig(t, "upstream", up, []fieldCase[v1alpha1.UpstreamSpec]{
		{field: "urls", set: func(u *v1alpha1.UpstreamSpec) {
			u.URLs = []string{"https://pypi.example.com/simple/", "http://other.pypi.svc:8080/simple/"}
		}, got: func(c server.Config) any { return c.Upstream.URLs }, want: []string{"https://pypi.example.com/simple/", "http://other.pypi.svc:8080/simple/"}, in: in},
		{field: "credentialsSecret.name", set: func(u *v1alpha1.UpstreamSpec) {
			u.CredentialsSecret = &v1alpha1.UpstreamCredentials{Name: "pypi-upstream"}
		},
			got: func(c server.Config) any { return c.Upstream.Credentials[""] }, want: upstream.Credential{User: "secret:username", Password: "secret:password"}, in: in},
		{field: "credentialsSecret.userKey", set: func(u *v1alpha1.UpstreamSpec) {
			u.CredentialsSecret = &v1alpha1.UpstreamCredentials{Name: "s", UserKey: "user", PasswordKey: "token"}
		}, got: func(c server.Config) any { return c.Upstream.Credentials[""] }, want: upstream.Credential{User: "secret:user", Password: "secret:token"}, in: in},
		{field: "credentialsSecret.passwordKey", set: func(u *v1alpha1.UpstreamSpec) {
			u.CredentialsSecret = &v1alpha1.UpstreamCredentials{Name: "s", PasswordKey: "token"}
		}, got: func(c server.Config) any { return c.Upstream.Credentials[""] }, want: upstream.Credential{User: "secret:username", Password: "secret:token"}, in: in},
		{field: "credentialsSecret.fileKey", set: func(u *v1alpha1.UpstreamSpec) {
			u.CredentialsSecret = &v1alpha1.UpstreamCredentials{Name: "s", FileKey: "creds"}
		}, got: func(c server.Config) any { return c.Upstream.Credentials["https://pypi.org/simple/"] },
			want: upstream.Credential{User: "alice", Password: "wonderland"}, in: in},
		{field: "caBundle.name", set: func(u *v1alpha1.UpstreamSpec) { u.CABundle = &v1alpha1.ConfigMapKeyRef{Name: "corp-ca", Key: "ca.pem"} },
			got: func(c server.Config) any { return strings.HasSuffix(c.Upstream.CAFile, upstreamCADir+"/ca.pem") }, want: true, in: in},
		{field: "caBundle.key", set: func(u *v1alpha1.UpstreamSpec) {
			u.CABundle = &v1alpha1.ConfigMapKeyRef{Name: "corp-ca", Key: "bundle.crt"}
		},
			got: func(c server.Config) any { return strings.HasSuffix(c.Upstream.CAFile, upstreamCADir+"/bundle.crt") }, want: true, in: in},
		{field: "ttl", set: func(u *v1alpha1.UpstreamSpec) { u.TTL = &metav1.Duration{Duration: 90 * time.Second} },
			got: func(c server.Config) any { return c.Upstream.TTL }, want: 90 * time.Second, in: in},
		{field: "timeout", set: func(u *v1alpha1.UpstreamSpec) { u.Timeout = &metav1.Duration{Duration: 5 * time.Second} },
			got: func(c server.Config) any { return c.Upstream.Timeout }, want: 5 * time.Second, in: in},
		{field: "merge", set: func(u *v1alpha1.UpstreamSpec) { u.Merge = []string{"Acme_Tools", "numpy"} },
			got: func(c server.Config) any { return c.Upstream.Merge }, want: []string{"acme-tools", "numpy"}, in: in},
		{field: "deny", set: func(u *v1alpha1.UpstreamSpec) { u.Deny = []string{"acme-secret"} },
			got: func(c server.Config) any { return c.Upstream.Deny }, want: []string{"acme-secret"}, in: in},
		{field: "cacheSize", set: func(u *v1alpha1.UpstreamSpec) { u.CacheSize = new(resource.MustParse("20Gi")) },
			got: func(c server.Config) any { return c.Upstream.CacheSize }, want: int64(20 << 30), in: in},
		{field: "maxPageSize", set: func(u *v1alpha1.UpstreamSpec) { u.MaxPageSize = new(resource.MustParse("8Mi")) },
			got: func(c server.Config) any { return c.Upstream.MaxPageSize }, want: int64(8 << 20), in: in},
		{field: "maxFetches", set: func(u *v1alpha1.UpstreamSpec) { u.MaxFetches = new(int32(4)) },
			got: func(c server.Config) any { return c.Upstream.MaxFetches }, want: 4, in: in},
	}, map[string]map[string]string{
		"credentialsSecret.fileKey": {upstreamCredentialsDir + "/creds": "https://pypi.org/simple/ alice:wonderland\n"},
		"caBundle.name":             {upstreamCADir + "/ca.pem": "-"},
		"caBundle.key":              {upstreamCADir + "/bundle.crt": "-"},
	})
}

// fieldCase is one field of a spec section S and the server setting it
// reaches.
type fieldCase[S any] struct {
	field string // JSON path below the section
	set   func(s *S)
	// got reads the setting the field means; only the config fields
	// named in may differ from the defaults.
	got  func(c server.Config) any
	want any
	in   []string
}

// checkFieldsReachTheConfig runs the cases of the spec section named
// prefix, which section finds (and creates) in an index, and fails for a
// field of S that no case names.
// files, by field, are written where the pod has them mounted (path:
// content) for the server to read.
func checkFieldsReachTheConfig[S any](t *testing.T, prefix string, section func(*v1alpha1.PackageIndex) *S, cases []fieldCase[S], files map[string]map[string]string) {
	t.Helper()
	empty := &v1alpha1.PackageIndex{}
	section(empty)
	base := parseServerArgs(t, serverArgs(empty))
	if !slices.Equal(base.Roots, []string{dataDir}) || base.Listen != fmt.Sprintf(":%d", serverPort) {
		t.Errorf("every index serves %s on :%d; the config says roots %q, listen %q", dataDir, serverPort, base.Roots, base.Listen)
	}
	named := map[string]bool{}
	for _, tc := range cases {
		named[tc.field] = true
		t.Run(tc.field, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{}
			tc.set(section(idx))
			args := serverArgs(idx)
			if len(files[tc.field]) > 0 {
				dir := t.TempDir()
				for p, content := range files[tc.field] {
					if err := os.MkdirAll(filepath.Dir(dir+p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(dir+p, []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				for i, a := range args {
					args[i] = strings.Replace(a, "=/etc/pkgindex/", "="+dir+"/etc/pkgindex/", 1)
				}
			}
			env := map[string]string{}
			for _, e := range deploymentFor(idx, Options{}).Spec.Template.Spec.Containers[0].Env {
				if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
					env[e.Name] = "secret:" + ref.SecretKeyRef.Key
				}
			}
			cfg, err := server.CheckFlags(args[1:], func(name string) string { return env[name] })
			if err != nil {
				t.Fatalf("pkgindex serve %s: %v", strings.Join(args[1:], " "), err)
			}
			if got := tc.got(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec.%s.%s gives the server %#v, want %#v", prefix, tc.field, got, tc.want)
			}
			for _, f := range changedFields(base, cfg) {
				if !slices.Contains(tc.in, f) {
					t.Errorf("spec.%s.%s also changes the server's %s", prefix, tc.field, f)
				}
			}
		})
	}
	for _, f := range jsonFields(reflect.TypeFor[S](), "") {
		if !named[f] {
			t.Errorf("spec.%s.%s is not in the table: say which server setting it reaches", prefix, f)
		}
	}
}

// changedFields names the fields of b that differ from a.
func changedFields(a, b server.Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

// jsonFields lists the JSON paths of a struct's fields, those of nested
// structs (through pointers and slices of them are not followed) joined
// with dots.
func jsonFields(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() {
			out = append(out, jsonFields(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// The operator refuses extra arguments and environment the server would
// not start with, or that would move what the operator owns, and names
// the one at fault.
func TestServerArgsProblem(t *testing.T) {
	cases := []struct {
		name   string
		server v1alpha1.ServerSpec
		want   string // in the problem; "" for none
	}{
		{"none", v1alpha1.ServerSpec{}, ""},
		{"good flags", v1alpha1.ServerSpec{ExtraArgs: []string{"--storage-timeout=30s", "--trust-proxy"}}, ""},
		{"good env", v1alpha1.ServerSpec{Env: []corev1.EnvVar{{Name: "PKGINDEX_STORAGE_TIMEOUT", Value: "1m"}}}, ""},
		{"env from a Secret is not known", v1alpha1.ServerSpec{Env: []corev1.EnvVar{{Name: "PKGINDEX_STORAGE_TIMEOUT",
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "t"}}}}}, ""},
		{"unknown flag", v1alpha1.ServerSpec{ExtraArgs: []string{"--trust-proxy", "--no-such-flag=1"}},
			`server.extraArgs[1] "--no-such-flag=1" is refused`},
		{"bad value", v1alpha1.ServerSpec{ExtraArgs: []string{"--storage-timeout=soon"}},
			`server.extraArgs[0] "--storage-timeout=soon" is refused`},
		{"value the server refuses", v1alpha1.ServerSpec{ExtraArgs: []string{"--temp-max-age=1s"}},
			"--temp-max-age 1s: want a minute or more"},
		{"a root after --", v1alpha1.ServerSpec{ExtraArgs: []string{"--", "/elsewhere"}},
			"the operator owns them"},
		{"bad env", v1alpha1.ServerSpec{Env: []corev1.EnvVar{{Name: "PKGINDEX_LOG_LEVEL", Value: "loud"}}},
			"server.env PKGINDEX_LOG_LEVEL is refused"},
		{"port from env", v1alpha1.ServerSpec{Env: []corev1.EnvVar{{Name: "PKGINDEX_PORT", Value: "9000"}}},
			`it would listen on ":9000"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{Spec: v1alpha1.PackageIndexSpec{Server: tc.server}}
			got := serverArgsProblem(idx, checkServe)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problem %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
