package auth

import (
	"testing"
	"time"
)

// settledAuth returns an Authenticator on users whose clock is settleGuard
// ahead, so that the file counts as settled at once, as it is a few seconds
// after any change.
func settledAuth(b *testing.B) *Authenticator {
	a := newAuth(b, Options{Passwords: writeFile(b, users), Actions: DefaultActions})
	a.now = func() time.Time { return time.Now().Add(settleGuard) }
	return a
}

// BenchmarkCheck is the common case: pip sends the same credentials with
// every request, answered from the cache after one stat of the file.
func BenchmarkCheck(b *testing.B) {
	a := settledAuth(b)
	r := request(basicAuth("bob", bobPW))
	if _, err := a.Check(r, Update); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Check(r, Update); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	a := settledAuth(b)
	if _, err := a.Check(request(basicAuth("bob", bobPW)), Update); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := request(basicAuth("bob", bobPW))
		for pb.Next() {
			if _, err := a.Check(r, Update); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRefused is a wrong password, or an unknown user: never cached.
func BenchmarkRefused(b *testing.B) {
	a := settledAuth(b)
	for _, tc := range []struct{ name, user string }{{"wrong password", "carol"}, {"unknown user", "nobody"}} {
		b.Run(tc.name, func(b *testing.B) {
			r := request(basicAuth(tc.user, "wrong"))
			for b.Loop() {
				a.Check(r, Update)
			}
		})
	}
}

// BenchmarkVerify is the cost of one check that misses the cache, by
// scheme, at the cost htpasswd gives by default (bcrypt at 10 here, as
// passlib and most guides use).
func BenchmarkVerify(b *testing.B) {
	for _, field := range []string{
		"$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
		"$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/",
		"$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/",
		"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	} {
		h, err := parseHash(field, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(h.params().scheme, func(b *testing.B) {
			pw := []byte("a typical password")
			for b.Loop() {
				h.verify(pw)
			}
		})
	}
}
