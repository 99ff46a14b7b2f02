package auth

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// verifier checks passwords against one stored hash.
type verifier interface {
	// verify reports whether password matches, in time that depends on
	// the password's length and the hash's cost, never on how much of it
	// matched.
	verify(password []byte) bool
	// params names the scheme and cost, for choosing the dummy.
	params() params
	// twin returns a hash of a random password under the same scheme and
	// cost: verifying against it costs what verifying against this does,
	// and always fails.
	twin() verifier
}

// params are what makes two hashes cost the same to verify.
type params struct {
	scheme string
	cost   int // bcrypt's log2 cost, SHA-crypt's rounds, 0 where fixed
}

// Why entries are refused. None of them quotes the hash: a refused field may
// be a password.
var (
	errPlaintext = errors.New("plain-text password refused (plain text is not allowed; re-create the entry with htpasswd -B)")
	errDES       = errors.New("des-crypt hash refused: it uses only the first 8 bytes of a password (re-create the entry with htpasswd -B)")
	errScheme    = errors.New("unsupported hash scheme (supported: bcrypt, apr1, md5-crypt, sha256-crypt, sha512-crypt, {SHA})")
)

// knownSchemes name the identifiers of hash schemes this package does not
// verify, so that the refusal can say which one it met. Only identifiers in
// this list are ever repeated in a message: anything else could be part of a
// password.
var knownSchemes = map[string]string{
	"$y$": "yescrypt", "$gy$": "gost-yescrypt", "$7$": "scrypt",
	"$argon2i$": "argon2i", "$argon2d$": "argon2d", "$argon2id$": "argon2id",
	"$2$": "bcrypt $2$", "$2x$": "bcrypt $2x$", "$3$": "nt-hash",
	"$md5$": "sun-md5-crypt", "$sha1$": "sha1-crypt",
	"{SSHA}": "salted SHA-1", "{SHA256}": "SHA-256", "{SSHA256}": "salted SHA-256",
	"{SHA512}": "SHA-512", "{SSHA512}": "salted SHA-512", "{MD5}": "MD5",
	"{SMD5}": "salted MD5", "{CRYPT}": "crypt", "{PLAIN}": "plain text",
}

// parseHash reads the password field of an htpasswd line.
func parseHash(field string, allowPlain bool) (verifier, error) {
	switch {
	case strings.HasPrefix(field, "$2a$"), strings.HasPrefix(field, "$2b$"), strings.HasPrefix(field, "$2y$"):
		return parseBcrypt(field)
	case strings.HasPrefix(field, "$apr1$"):
		return parseMD5(field, "$apr1$")
	case strings.HasPrefix(field, "$1$"):
		return parseMD5(field, "$1$")
	case strings.HasPrefix(field, sha256Crypt.prefix):
		return parseSHACrypt(field, &sha256Crypt)
	case strings.HasPrefix(field, sha512Crypt.prefix):
		return parseSHACrypt(field, &sha512Crypt)
	case strings.HasPrefix(field, "{SHA}"):
		sum, err := base64.StdEncoding.DecodeString(field[len("{SHA}"):])
		if err != nil || len(sum) != sha1.Size {
			return nil, errors.New("malformed {SHA} hash: want the base64 of 20 bytes")
		}
		return sha1Hash(sum), nil
	case strings.HasPrefix(field, "$"), strings.HasPrefix(field, "{"):
		// A plain-text password could start so, but a hash of a scheme
		// this package does not know is far more likely; taking it as
		// plain text would make the hash itself the password.
		for id, name := range knownSchemes {
			if strings.HasPrefix(field, id) {
				return nil, fmt.Errorf("%w: %s", errScheme, name)
			}
		}
		return nil, errScheme
	case len(field) == 13 && isCrypt64(field), len(field) == 20 && field[0] == '_' && isCrypt64(field[1:]):
		// passlib and Apache on Unix take such fields for (extended) DES
		// crypt, never for plain text.
		return nil, errDES
	case !allowPlain:
		return nil, errPlaintext
	}
	return plainHash(sha256.Sum256([]byte(field))), nil
}

// bcryptHash is a bcrypt hash as htpasswd -B writes it.
type bcryptHash struct {
	hash []byte
	cost int
}

func parseBcrypt(field string) (verifier, error) {
	// $2y$ cc $ 22 salt characters, 31 checksum characters.
	if len(field) != 60 || field[6] != '$' || !isCrypt64(field[7:]) {
		return nil, errors.New("malformed bcrypt hash: want 60 characters, $2y$NN$ then 53 of [./0-9A-Za-z]")
	}
	cost, err := bcrypt.Cost([]byte(field))
	if err != nil {
		return nil, fmt.Errorf("malformed bcrypt hash: cost %q: want 04 to 31", field[4:6])
	}
	return bcryptHash{[]byte(field), cost}, nil
}

// verify checks password; like htpasswd and passlib, bcrypt looks at its
// first 72 bytes only.
func (h bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h.hash, password) == nil
}

func (h bcryptHash) params() params { return params{"bcrypt", h.cost} }

func (h bcryptHash) twin() verifier {
	hash, err := bcrypt.GenerateFromPassword(randomBytes(16), h.cost)
	if err != nil {
		// Only an invalid cost fails, and parseBcrypt has checked it.
		panic(fmt.Sprintf("auth: bcrypt at cost %d: %v", h.cost, err))
	}
	return bcryptHash{hash, h.cost}
}

// md5Hash is an md5-crypt hash, "$1$" or Apache's "$apr1$".
type md5Hash struct {
	magic string
	salt  []byte
	sum   []byte
}

func parseMD5(field, magic string) (verifier, error) {
	salt, sum, ok := strings.Cut(field[len(magic):], "$")
	if !ok || len(salt) > 8 || len(sum) != 22 || !isCrypt64(sum) {
		return nil, fmt.Errorf("malformed %s hash: want %ssalt$ then 22 of [./0-9A-Za-z], salt at most 8 characters", md5Name(magic), magic)
	}
	return md5Hash{magic, []byte(salt), []byte(sum)}, nil
}

func md5Name(magic string) string {
	if magic == "$apr1$" {
		return "apr1"
	}
	return "md5-crypt"
}

func (h md5Hash) verify(password []byte) bool {
	return subtle.ConstantTimeCompare(md5Crypt(h.magic, password, h.salt), h.sum) == 1
}

func (h md5Hash) params() params { return params{md5Name(h.magic), 0} }

func (h md5Hash) twin() verifier {
	salt := randomSalt(8)
	return md5Hash{h.magic, salt, md5Crypt(h.magic, randomBytes(16), salt)}
}

// shaHash is a SHA-crypt hash, "$5$" or "$6$".
type shaHash struct {
	v      *shaVariant
	rounds int
	salt   []byte
	sum    []byte
}

func parseSHACrypt(field string, v *shaVariant) (verifier, error) {
	bad := func() error {
		return fmt.Errorf("malformed %s hash: want %s[rounds=N$]salt$checksum, salt at most %d characters, N from %d to %d",
			v.name, v.prefix, shaCryptMaxSalt, shaCryptMinRounds, shaCryptMaxRounds)
	}
	rest := field[len(v.prefix):]
	rounds := shaCryptDefaultRounds
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, ok := strings.Cut(r, "$")
		n, err := strconv.Atoi(num)
		// passlib and glibc refuse leading zeros and out-of-range
		// counts in stored hashes rather than clamping them.
		if !ok || err != nil || num[0] == '0' || num[0] == '+' || n < shaCryptMinRounds || n > shaCryptMaxRounds {
			return nil, bad()
		}
		rounds, rest = n, after
	}
	salt, sum, ok := strings.Cut(rest, "$")
	if !ok || len(salt) > shaCryptMaxSalt || len(sum) != v.sumLen || !isCrypt64(sum) {
		return nil, bad()
	}
	return shaHash{v, rounds, []byte(salt), []byte(sum)}, nil
}

func (h shaHash) verify(password []byte) bool {
	return subtle.ConstantTimeCompare(shaCrypt(h.v.newHash, h.v.order, password, h.salt, h.rounds), h.sum) == 1
}

func (h shaHash) params() params { return params{h.v.name, h.rounds} }

func (h shaHash) twin() verifier {
	salt := randomSalt(shaCryptMaxSalt)
	return shaHash{h.v, h.rounds, salt, shaCrypt(h.v.newHash, h.v.order, randomBytes(16), salt, h.rounds)}
}

// sha1Hash is an unsalted SHA-1 digest, htpasswd -s.
type sha1Hash []byte

func (h sha1Hash) verify(password []byte) bool {
	sum := sha1.Sum(password)
	return subtle.ConstantTimeCompare(sum[:], h) == 1
}

func (h sha1Hash) params() params { return params{"sha1", 0} }

func (h sha1Hash) twin() verifier { return sha1Hash(randomBytes(sha1.Size)) }

// plainHash keeps the SHA-256 of a plain-text password rather than the
// password: comparing digests takes the same time whatever the lengths, and
// the password itself does not stay in memory.
type plainHash [sha256.Size]byte

func (h plainHash) verify(password []byte) bool {
	sum := sha256.Sum256(password)
	return subtle.ConstantTimeCompare(sum[:], h[:]) == 1
}

func (h plainHash) params() params { return params{"plain", 0} }

func (h plainHash) twin() verifier { return plainHash(randomBytes(sha256.Size)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails; see its documentation
	return b
}

func randomSalt(n int) []byte {
	b := randomBytes(n)
	for i := range b {
		b[i] = crypt64[b[i]&0x3f]
	}
	return b
}
