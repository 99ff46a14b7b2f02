package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// This file holds the crypt(3) descendants htpasswd writes besides bcrypt:
// md5-crypt (Poul-Henning Kamp's algorithm, "$1$") with its Apache variant
// apr1 ("$apr1$", the same algorithm under another magic string), and
// SHA-crypt ("$5$" and "$6$", Ulrich Drepper's specification). Both are
// written from their specifications and checked against published vectors
// and the output of htpasswd, openssl passwd and glibc's crypt.

// crypt64 is the alphabet crypt(3) writes checksums and salts in. It is not
// base64's: the order differs and the low six bits of each group come first.
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// isCrypt64 reports whether s is made of crypt64 characters only.
func isCrypt64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// group names up to three bytes of a digest, most significant first, that
// become n characters of the checksum; -1 stands for a zero byte.
type group struct {
	b [3]int
	n int
}

// The byte orders in which each algorithm spells its digest, from the
// specifications.
var (
	md5Order = []group{
		{[3]int{0, 6, 12}, 4}, {[3]int{1, 7, 13}, 4}, {[3]int{2, 8, 14}, 4},
		{[3]int{3, 9, 15}, 4}, {[3]int{4, 10, 5}, 4}, {[3]int{-1, -1, 11}, 2},
	}
	sha256Order = []group{
		{[3]int{0, 10, 20}, 4}, {[3]int{21, 1, 11}, 4}, {[3]int{12, 22, 2}, 4},
		{[3]int{3, 13, 23}, 4}, {[3]int{24, 4, 14}, 4}, {[3]int{15, 25, 5}, 4},
		{[3]int{6, 16, 26}, 4}, {[3]int{27, 7, 17}, 4}, {[3]int{18, 28, 8}, 4},
		{[3]int{9, 19, 29}, 4}, {[3]int{-1, 31, 30}, 3},
	}
	sha512Order = []group{
		{[3]int{0, 21, 42}, 4}, {[3]int{22, 43, 1}, 4}, {[3]int{44, 2, 23}, 4},
		{[3]int{3, 24, 45}, 4}, {[3]int{25, 46, 4}, 4}, {[3]int{47, 5, 26}, 4},
		{[3]int{6, 27, 48}, 4}, {[3]int{28, 49, 7}, 4}, {[3]int{50, 8, 29}, 4},
		{[3]int{9, 30, 51}, 4}, {[3]int{31, 52, 10}, 4}, {[3]int{53, 11, 32}, 4},
		{[3]int{12, 33, 54}, 4}, {[3]int{34, 55, 13}, 4}, {[3]int{56, 14, 35}, 4},
		{[3]int{15, 36, 57}, 4}, {[3]int{37, 58, 16}, 4}, {[3]int{59, 17, 38}, 4},
		{[3]int{18, 39, 60}, 4}, {[3]int{40, 61, 19}, 4}, {[3]int{62, 20, 41}, 4},
		{[3]int{-1, -1, 63}, 2},
	}
)

// encodeDigest spells sum in crypt64 in the given byte order.
func encodeDigest(sum []byte, order []group) []byte {
	var out []byte
	for _, g := range order {
		var v uint32
		for _, i := range g.b {
			v <<= 8
			if i >= 0 {
				v |= uint32(sum[i])
			}
		}
		for range g.n {
			out = append(out, crypt64[v&0x3f])
			v >>= 6
		}
	}
	return out
}

// md5Crypt returns the checksum part of md5-crypt of password with salt
// (at most 8 bytes) under magic ("$1$" or "$apr1$").
func md5Crypt(magic string, password, salt []byte) []byte {
	h := md5.New()
	opening(h, magic, password, salt)
	// The reference implementation zeroes its digest before this loop and
	// then feeds the digest's first byte, so a set bit adds a NUL byte.
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(password[:1])
		}
	}
	sum := h.Sum(nil)

	// 1000 rounds, to make brute force slower (by 1990s standards).
	return encodeDigest(rounds(h, sum, password, salt, 1000), md5Order)
}

// opening starts both algorithms: it computes the digest of password, salt,
// password, then leaves h fed with the password, magic ("" for SHA-crypt),
// the salt, and as many bytes of that digest, repeated, as the password has.
// It returns the digest.
func opening(h hash.Hash, magic string, password, salt []byte) []byte {
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	alt := h.Sum(nil)

	h.Reset()
	h.Write(password)
	h.Write([]byte(magic))
	h.Write(salt)
	for n := len(password); n > 0; n -= len(alt) {
		h.Write(alt[:min(n, len(alt))])
	}
	return alt
}

// rounds is the loop md5-crypt and SHA-crypt share: each round hashes the
// previous digest with p (the password or its stand-in) and s (the salt or
// its stand-in), in an order the round's number sets.
func rounds(h hash.Hash, sum, p, s []byte, n int) []byte {
	for i := range n {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(sum)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(sum)
		} else {
			h.Write(p)
		}
		sum = h.Sum(sum[:0])
	}
	return sum
}

// SHA-crypt's limits on rounds, from its specification; passlib and glibc
// refuse stored hashes outside them.
const (
	shaCryptMinRounds     = 1000
	shaCryptMaxRounds     = 999_999_999
	shaCryptDefaultRounds = 5000
	shaCryptMaxSalt       = 16
)

// shaCrypt returns the checksum part of SHA-crypt of password with salt (at
// most 16 bytes) and the given rounds, using SHA-256 or SHA-512 as newHash
// says.
func shaCrypt(newHash func() hash.Hash, order []group, password, salt []byte, count int) []byte {
	h := newHash()

	// Digest A: the opening, then B (the digest of password, salt,
	// password) or the password for each bit of the password's length.
	b := opening(h, "", password, salt)
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(password)
		}
	}
	a := h.Sum(nil)

	// Sequence P: the digest of the password repeated once per byte of it,
	// stretched to the password's length.
	h.Reset()
	for range len(password) {
		h.Write(password)
	}
	p := stretch(h.Sum(nil), len(password))

	// Sequence S: the digest of the salt repeated 16+A[0] times, stretched
	// to the salt's length.
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := stretch(h.Sum(nil), len(salt))

	return encodeDigest(rounds(h, a, p, s, count), order)
}

// stretch repeats d until it is n bytes long.
func stretch(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, d[:min(n-len(out), len(d))]...)
	}
	return out
}

// The SHA-crypt variants by their identifiers.
var (
	sha256Crypt = shaVariant{"sha256-crypt", "$5$", sha256.New, sha256Order, 43}
	sha512Crypt = shaVariant{"sha512-crypt", "$6$", sha512.New, sha512Order, 86}
)

type shaVariant struct {
	name    string
	prefix  string
	newHash func() hash.Hash
	order   []group
	sumLen  int // characters in the checksum
}
