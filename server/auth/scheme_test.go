package auth

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// knownHashes are published vectors and the output of htpasswd (Apache
// 2.4), openssl passwd and glibc's crypt for the given passwords.
var knownHashes = []struct {
	name, field, password, scheme string
}{
	// htpasswd -nbB -C 4 bob 'battery staple'
	{"bcrypt htpasswd", "$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe", "battery staple", "bcrypt"},
	// PHP's password_verify documentation
	{"bcrypt php", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", "rasmuslerdorf", "bcrypt"},

	// openssl passwd -apr1 -salt ...
	{"apr1", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/", "password", "apr1"},
	{"apr1 empty password", "$apr1$abc$BfqKdn9xFDWJPa3kcp/PH0", "", "apr1"},
	{"apr1 long password, short salt", "$apr1$x./Z9$s5/aBX8wttb29m6rszw2x.", "a much longer password of more than 32 bytes, with spaces", "apr1"},
	{"apr1 utf-8 and colons", "$apr1$12345678$ib5srTq3juOfvrEw/GwF40", "pässwörd:with:colons", "apr1"},
	// htpasswd -nbm alice 'correct horse'
	{"apr1 htpasswd", "$apr1$f/iZUj3.$9sscSZ5Fh0ifhGqB4JwdN0", "correct horse", "apr1"},

	// openssl passwd -1 -salt ... (glibc's crypt agrees)
	{"md5-crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", "password", "md5-crypt"},
	{"md5-crypt empty password", "$1$ab$rn6aQS/o7141mj179E/zA.", "", "md5-crypt"},
	{"md5-crypt long password", "$1$Qz.9/aB$J9RZvOfdQSVCJQK6j8E8f1", "a much longer password of more than 32 bytes, with spaces", "md5-crypt"},

	// The SHA-crypt specification's own vectors.
	{"sha256-crypt spec", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", "sha256-crypt"},
	{"sha256-crypt spec rounds, long salt", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", "This is just a test", "sha256-crypt"},
	{"sha512-crypt spec", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", "sha512-crypt"},
	{"sha512-crypt spec rounds", "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0", "we have a short salt string but not a short password", "sha512-crypt"},
	{"sha512-crypt spec long", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "sha512-crypt"},
	// glibc crypt: a password longer than the digest, and empty ones.
	{"sha256-crypt 200 bytes", "$5$rounds=1000$salt$kQPQ.XqDqn.LY6.cOYS0XW7LLNf2k3deWHUbwViFf72", strings.Repeat("x", 200), "sha256-crypt"},
	{"sha512-crypt 200 bytes", "$6$rounds=1000$salt$MFgxysYwJOfG8xNxSvv30dqd7xT6iJCF3mNEQGkxk4vwAtSziUwZFStqejzNnI19SD/gvnZKYIk9gkqBtC6X8.", strings.Repeat("y", 200), "sha512-crypt"},
	{"sha256-crypt empty password", "$5$0123456789abcdef$Zn36wCiXtVKLQsl4EZaBU/Ag5FUHHzFRXevhCLkg7x/", "", "sha256-crypt"},
	{"sha512-crypt empty password", "$6$0123456789abcdef$F2ysjt5Ng5qVz2/gDtbz.ycdictosXpZ7Xsgu8PlbAws/.ekNFWz9XrSKXBI0tVYfdxX.nsVfGs7qe4jMrOWH0", "", "sha512-crypt"},
	// htpasswd -2, -5, -r
	{"sha256-crypt htpasswd", "$5$OVB6CmKgZccAu/n.$MoybMKnQaJPeYjc8LzyXtEe0M9WOZNW8PD56.VIs2k/", "correct horse", "sha256-crypt"},
	{"sha512-crypt htpasswd", "$6$ISL9mAzthNbt0y1p$4NLCOdw1s.CxOHBPmY9aYiHSYyMelqAYeDUVKGILesRr.urtn5l4qEqA9gCX09t0W468QvKKtcbqc133ONQgQ1", "correct horse", "sha512-crypt"},
	{"sha256-crypt htpasswd rounds", "$5$rounds=1234$rZkEVDlJbzDcMPlq$QiQwZUQvBiFwnUqpo6StY9zG.ip2AjC2tRJTSf64wi5", "pw:with:colons", "sha256-crypt"},

	// htpasswd -s; openssl sha1 | base64
	{"sha1 htpasswd", "{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=", "correct horse", "sha1"},
	{"sha1", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password", "sha1"},
	{"sha1 utf-8 and colons", "{SHA}vx54GxOZDITxkGttb9cITtd5H4k=", "pässwörd:with:colons", "sha1"},
}

func TestKnownHashes(t *testing.T) {
	for _, tc := range knownHashes {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHash(tc.field, false)
			if err != nil {
				t.Fatalf("parseHash: %v", err)
			}
			if got := h.params().scheme; got != tc.scheme {
				t.Errorf("scheme %q, want %q", got, tc.scheme)
			}
			if !h.verify([]byte(tc.password)) {
				t.Errorf("the right password is refused")
			}
			for _, wrong := range []string{tc.password + "x", "x" + tc.password, strings.ToUpper(tc.password) + "!", ""} {
				if wrong != tc.password && h.verify([]byte(wrong)) {
					t.Errorf("wrong password %q accepted", wrong)
				}
			}
		})
	}
}

// TestBcryptPrefixes checks that the three bcrypt identifiers htpasswd,
// passlib and OpenBSD write are all read, with hashes made now.
func TestBcryptPrefixes(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret:with:colons"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(prefix, func(t *testing.T) {
			h, err := parseHash(prefix+string(hash[4:]), false)
			if err != nil {
				t.Fatal(err)
			}
			if p := h.params(); p != (params{"bcrypt", bcrypt.MinCost}) {
				t.Errorf("params %+v", p)
			}
			if !h.verify([]byte("s3cret:with:colons")) {
				t.Error("the right password is refused")
			}
			if h.verify([]byte("s3cret:with:colon")) {
				t.Error("a wrong password is accepted")
			}
		})
	}
}

// TestBcryptLongPassword checks the behaviour of htpasswd and passlib:
// bytes past the 72nd do not count.
func TestBcryptLongPassword(t *testing.T) {
	long := strings.Repeat("0123456789", 8) // 80 bytes
	hash, err := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHash(string(hash), false)
	if err != nil {
		t.Fatal(err)
	}
	if !h.verify([]byte(long)) || !h.verify([]byte(long[:72])) {
		t.Error("password refused")
	}
	if h.verify([]byte(long[:71])) {
		t.Error("71 bytes accepted")
	}
}

func TestPlaintext(t *testing.T) {
	if _, err := parseHash("hunter2", false); !errors.Is(err, errPlaintext) {
		t.Errorf("plain text not allowed: got %v, want errPlaintext", err)
	}
	h, err := parseHash("hunter2", true)
	if err != nil {
		t.Fatal(err)
	}
	if !h.verify([]byte("hunter2")) || h.verify([]byte("hunter")) || h.verify([]byte("hunter22")) {
		t.Error("plain text compares wrongly")
	}
}

func TestRefusedFields(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		want        error // nil: any error
	}{
		{"des crypt", "xRIF4uPyTleMs", errDES},
		{"bsdi crypt", "_J9..CCCCXBrJUJV154M", errDES},
		{"yescrypt", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7", errScheme},
		{"argon2id", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", errScheme},
		{"ssha", "{SSHA}aGVsbG8gd29ybGQgdGhpcyBpcyBzYWx0", errScheme},
		{"unknown dollar", "$zz$whatever", errScheme},
		{"bcrypt $2x$", "$2x$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe", errScheme},
		{"bcrypt short", "$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULC", nil},
		{"bcrypt cost", "$2y$99$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe", nil},
		{"bcrypt alphabet", "$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AUL!e", nil},
		{"apr1 no checksum", "$apr1$saltsalt", nil},
		{"apr1 long salt", "$apr1$saltsalty$yAAkm4libquA.ZWLHbSBq/", nil},
		{"apr1 short checksum", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq", nil},
		{"md5 alphabet", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK!", nil},
		{"sha256 rounds too low", "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC", nil},
		{"sha256 rounds leading zero", "$5$rounds=05000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", nil},
		{"sha256 rounds not a number", "$5$rounds=x$salt$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", nil},
		{"sha256 salt too long", "$5$toolongsaltstring$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", nil},
		{"sha512 checksum of sha256 length", "$6$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", nil},
		{"sha1 not base64", "{SHA}not base64!", nil},
		{"sha1 wrong length", "{SHA}aGVsbG8=", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, allowPlain := range []bool{false, true} {
				_, err := parseHash(tc.field, allowPlain)
				if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("allowPlain=%v: got %v, want %v", allowPlain, err, tc.want)
				}
				if strings.Contains(err.Error(), tc.field) || len(tc.field) > 12 && strings.Contains(err.Error(), tc.field[len(tc.field)-12:]) {
					t.Errorf("the message %q repeats the field", err)
				}
			}
		})
	}
}

// TestTwin checks that every scheme's dummy costs the same (same params)
// and refuses what the model accepts.
func TestTwin(t *testing.T) {
	for _, tc := range knownHashes {
		if tc.name == "bcrypt php" {
			continue // cost 10: slow, and TestBcryptPrefixes covers bcrypt
		}
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseHash(tc.field, false)
			if err != nil {
				t.Fatal(err)
			}
			d := h.twin()
			if d.params() != h.params() {
				t.Errorf("twin params %+v, want %+v", d.params(), h.params())
			}
			if d.verify([]byte(tc.password)) {
				t.Error("twin accepts the model's password")
			}
		})
	}
}
