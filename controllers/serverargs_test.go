package controllers

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server"
)

// parseServerArgs parses the arguments the operator gives an index pod with
// the server's own parser. The pod's paths do not exist here, so the
// errors that say so are the only ones allowed.
func parseServerArgs(t *testing.T, args []string) server.Config {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("arguments %q do not start with serve", args)
	}
	var errOut bytes.Buffer
	cfg, err := server.ParseFlags(args[1:], func(string) string { return "" }, &errOut)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "--root ") && !strings.HasPrefix(line, "--passwords ") {
				t.Errorf("pkgindex serve %s: %s %s", strings.Join(args[1:], " "), line, errOut.String())
			}
		}
	}
	return cfg
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
