package trust

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
)

// The Sigstore (Fulcio) certificate extensions that name who a signing
// certificate was issued to.
var (
	oidIssuerV1   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}  // raw string
	oidIssuerV2   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}  // DER UTF8String
	oidSourceRepo = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12} // DER UTF8String
)

// PublisherClaims are the claims of a publisher's token kept to compare
// with the identity of attestations it uploads.
var PublisherClaims = []string{"iss", "sub", "repository", "job_workflow_ref", "workflow_ref", "ref", "environment", "project_path"}

// Kept returns the string claims of PublisherClaims, each at most 500
// bytes, to keep with an identity.
func Kept(claims map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range PublisherClaims {
		if v, ok := claims[k].(string); ok && len(v) <= 500 {
			out[k] = v
		}
	}
	return out
}

// CheckAttestation compares the identity a PEP 740 attestation's signing
// certificate (DER) was issued to with the claims of the publisher that
// uploads it, and reports a contradiction: another OIDC issuer, or another
// source repository. It verifies no signature and no chain: a certificate
// that contradicts nothing is not thereby trusted.
func CheckAttestation(der []byte, claims map[string]string) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("the certificate is not X.509: %w", err)
	}
	var issuer, repo string
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidIssuerV2):
			if _, err := asn1.UnmarshalWithParams(ext.Value, &issuer, "utf8"); err != nil {
				return fmt.Errorf("the certificate's issuer extension is malformed")
			}
		case ext.Id.Equal(oidIssuerV1) && issuer == "":
			issuer = string(ext.Value)
		case ext.Id.Equal(oidSourceRepo):
			if _, err := asn1.UnmarshalWithParams(ext.Value, &repo, "utf8"); err != nil {
				return fmt.Errorf("the certificate's source repository extension is malformed")
			}
		}
	}
	if issuer == "" {
		return fmt.Errorf("the certificate names no OIDC issuer, so it cannot be a trusted publisher's")
	}
	if want := claims["iss"]; issuer != want {
		return fmt.Errorf("the certificate was issued for tokens of %s, the upload comes with a token of %s", truncate(issuer, 100), want)
	}
	if want := claims["repository"]; repo != "" && want != "" && !strings.HasSuffix(repo, "/"+want) {
		return fmt.Errorf("the certificate was issued to repository %s, the upload comes from %s", truncate(repo, 200), want)
	}
	return nil
}
