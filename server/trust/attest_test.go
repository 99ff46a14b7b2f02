package trust

import (
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/trust/trusttest"
)

func TestCheckAttestation(t *testing.T) {
	claims := map[string]string{"iss": "https://token.actions.githubusercontent.com", "repository": "acme/lib"}
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"the same identity", trusttest.Certificate(t, claims["iss"], "https://github.com/acme/lib"), ""},
		{"no repository to compare", trusttest.Certificate(t, claims["iss"], ""), ""},
		{"another repository", trusttest.Certificate(t, claims["iss"], "https://github.com/evil/lib"), "issued to repository https://github.com/evil/lib"},
		{"a repository whose name ends alike", trusttest.Certificate(t, claims["iss"], "https://github.com/xacme/lib"), "issued to repository"},
		{"another issuer", trusttest.Certificate(t, "https://gitlab.com", "https://github.com/acme/lib"), "tokens of https://gitlab.com"},
		{"no issuer", trusttest.Certificate(t, "", "https://github.com/acme/lib"), "names no OIDC issuer"},
		{"not a certificate", []byte("cert"), "not X.509"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAttestation(tc.der, claims)
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckAttestation: %v, want %q", err, tc.want)
			}
		})
	}
}
