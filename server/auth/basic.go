package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// maxPassword bounds the password a request may send, as passlib does (4096
// bytes): SHA-crypt's work grows with the square of the password's length,
// so an unbounded one would let anyone spend the server's CPU.
const maxPassword = 4096

// maxUser bounds the user name; no htpasswd entry is longer.
const maxUser = 255

// basic extracts user and password from an Authorization header value. The
// scheme name is case-insensitive (RFC 7617); the base64 may lack its
// padding, as some clients send it. buf is used for the decoded bytes when
// it is large enough.
func basic(header string, buf []byte) (user, password []byte, err error) {
	if header == "" {
		return nil, nil, errNoCredentials
	}
	scheme, creds, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil, nil, errNotBasic
	}
	creds = strings.Trim(creds, " \t")
	enc := base64.StdEncoding
	if len(creds)%4 != 0 && !strings.HasSuffix(creds, "=") {
		enc = base64.RawStdEncoding
	}
	if enc.DecodedLen(len(creds)) > maxUser+1+maxPassword {
		return nil, nil, errMalformed
	}
	if n := enc.DecodedLen(len(creds)); n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := enc.Decode(buf, []byte(creds))
	if err != nil {
		return nil, nil, errMalformed
	}
	user, password, ok := bytes.Cut(buf[:n], []byte(":"))
	if !ok || len(user) > maxUser || len(password) > maxPassword {
		return nil, nil, errMalformed
	}
	return user, password, nil
}
