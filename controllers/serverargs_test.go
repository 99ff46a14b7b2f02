package controllers

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server"
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
			parseServerArgs(t, serverArgs(defaulted(t, s, idx)))
		})
	}
}

// Each field of spec.server sets, through the arguments, the server's
// configuration field it means, with its value; the rest of the
// configuration stays at the server's defaults. A field of the API that
// the table does not name fails the test, so a new one cannot be
// forgotten.
func TestServerFieldsReachTheConfig(t *testing.T) {
	base := parseServerArgs(t, serverArgs(&v1alpha1.PackageIndex{}))
	if !slices.Equal(base.Roots, []string{dataDir}) || base.Listen != fmt.Sprintf(":%d", serverPort) {
		t.Errorf("every index serves %s on :%d; the config says roots %q, listen %q", dataDir, serverPort, base.Roots, base.Listen)
	}
	cases := []struct {
		field string // JSON path below spec.server
		set   func(s *v1alpha1.ServerSpec)
		// got reads the setting the field means; only the config fields
		// named in may differ from the defaults.
		got  func(c server.Config) any
		want any
		in   []string
	}{
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
	}
	named := map[string]bool{}
	for _, tc := range cases {
		named[tc.field] = true
		t.Run(tc.field, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{}
			tc.set(&idx.Spec.Server)
			cfg := parseServerArgs(t, serverArgs(idx))
			if got := tc.got(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec.server.%s gives the server %#v, want %#v", tc.field, got, tc.want)
			}
			for _, f := range changedFields(base, cfg) {
				if !slices.Contains(tc.in, f) {
					t.Errorf("spec.server.%s also changes the server's %s", tc.field, f)
				}
			}
		})
	}
	for _, f := range jsonFields(reflect.TypeFor[v1alpha1.ServerSpec](), "") {
		if !named[f] {
			t.Errorf("spec.server.%s is not in the table: say which server setting it reaches", f)
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
