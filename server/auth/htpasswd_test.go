package auth

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	file := "\xef\xbb\xbf" + strings.Join([]string{
		"# users of the index", // 1
		"",                     // 2
		"alice:$apr1$f/iZUj3.$9sscSZ5Fh0ifhGqB4JwdN0\r",                      // 3: CRLF
		"   # an indented comment",                                           // 4
		"bob:$2y$04$hz2wCLpoaq4wzjfW38OO7.Sg3V3M2OX.WBbi3DSMBIPvV4p/AULCe  ", // 5: trailing blanks
		"a-password-pasted-alone",                                            // 6
		":$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/",                             // 7
		"carol:",                                                             // 8
		"dave:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/:extra",                   // 9
		"erin:hunter2",                                                       // 10: plain text
		"frank:xRIF4uPyTleMs",                                                // 11: DES
		"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",                            // 12: duplicate
		"grace:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",                            // 13
		" \t ", // 14
		"heidi:$5$rounds=1234$rZkEVDlJbzDcMPlq$QiQwZUQvBiFwnUqpo6StY9zG.ip2AjC2tRJTSf64wi5", // 15, no newline at the end
	}, "\n")
	wantProblems := map[int]error{6: errNoColon, 7: errNoUser, 8: errNoHash, 9: errExtraColon, 10: errPlaintext, 11: errDES, 12: nil}

	for _, allowPlain := range []bool{false, true} {
		users, problems := parse([]byte(file), allowPlain)
		var names []string
		for n, e := range users {
			if n != e.name {
				t.Errorf("key %q holds %q", n, e.name)
			}
			names = append(names, n)
		}
		sort.Strings(names)
		want := "alice bob grace heidi"
		if allowPlain {
			want = "alice bob erin grace heidi"
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("allowPlain=%v: users %q, want %q", allowPlain, got, want)
		}
		if !users["alice"].hash.verify([]byte("correct horse")) {
			t.Error("alice: the first line must decide")
		}

		got := map[int]error{}
		for _, p := range problems {
			var le *lineError
			if !errors.As(p, &le) {
				t.Fatalf("%v is not a lineError", p)
			}
			got[le.line] = le.err
			if le.line == 6 && le.user != "" {
				t.Errorf("line 6: a line without a colon must not be quoted, got user %q", le.user)
			}
		}
		for line, werr := range wantProblems {
			if line == 10 && allowPlain {
				werr = nil
				if _, ok := got[line]; ok {
					t.Errorf("line 10 refused with plain text allowed")
				}
				continue
			}
			gerr, ok := got[line]
			if !ok {
				t.Errorf("allowPlain=%v: line %d not reported", allowPlain, line)
			} else if werr != nil && !errors.Is(gerr, werr) {
				t.Errorf("line %d: got %v, want %v", line, gerr, werr)
			}
		}
		for line := range got {
			if _, ok := wantProblems[line]; !ok {
				t.Errorf("line %d reported: %v", line, got[line])
			}
		}
	}
}

// TestProblemsQuoteNoSecret checks that no report of a refused line repeats
// its hash or password.
func TestProblemsQuoteNoSecret(t *testing.T) {
	secrets := []string{"hunter2-secret", "xRIF4uPyTleMs", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq", "$y$j9T$F5Jx5fExrKuPp53xLKQ", "pasted-password-alone"}
	file := "a:hunter2-secret\nb:xRIF4uPyTleMs\nc:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq\nd:$y$j9T$F5Jx5fExrKuPp53xLKQ\npasted-password-alone\n"
	_, problems := parse([]byte(file), false)
	if len(problems) != 5 {
		t.Fatalf("got %d problems, want 5: %v", len(problems), problems)
	}
	msg := summarize(problems, 10).Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) || strings.Contains(msg, s[len(s)-8:]) {
			t.Errorf("report quotes %q:\n%s", s, msg)
		}
	}
}

func TestSummarize(t *testing.T) {
	var file strings.Builder
	for range 25 {
		file.WriteString("nocolon\n")
	}
	_, problems := parse([]byte(file.String()), false)
	msg := summarize(problems, 10).Error()
	if !strings.Contains(msg, "line 10:") || strings.Contains(msg, "line 11:") || !strings.Contains(msg, "and 15 more lines") {
		t.Errorf("summary:\n%s", msg)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("alice:$apr1$f/iZUj3.$9sscSZ5Fh0ifhGqB4JwdN0\n# c\n\nbob:hunter2\n"), true)
	f.Add([]byte("x:$5$rounds=1000$salt$kQPQ.XqDqn.LY6.cOYS0XW7LLNf2k3deWHUbwViFf72\r\n:y\nz"), false)
	f.Add([]byte("a:$6$rounds=$$\nb:$1$$\nc:{SHA}=\nd:$2y$04$"), false)
	f.Fuzz(func(t *testing.T, data []byte, allowPlain bool) {
		users, problems := parse(data, allowPlain)
		for name, e := range users {
			if name == "" || strings.ContainsAny(name, ":\n") || e.name != name || e.hash == nil {
				t.Fatalf("bad entry %q: %+v", name, e)
			}
		}
		for _, p := range problems {
			var le *lineError
			if !errors.As(p, &le) || le.line < 1 {
				t.Fatalf("bad problem %v", p)
			}
		}
	})
}
