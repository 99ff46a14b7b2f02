package auth

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseActions(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Actions
		wantErr string // a word the error must name
	}{
		{in: "update", want: Actions(Update)},
		{in: "download", want: Actions(Download)},
		{in: "list", want: Actions(List)},
		{in: "update,download,list", want: Actions(Update | Download | List)},
		{in: " Download , UPDATE ", want: Actions(Update | Download)},
		{in: "update,update", want: Actions(Update)},
		{in: ".", want: 0},
		{in: " . ", want: 0},
		{in: "", want: 0},
		{in: "upload", wantErr: `"upload"`},
		{in: "update,lst", wantErr: `"lst"`},
		{in: "update,.", wantErr: `"."`},
		{in: "update,,list", wantErr: "empty action"},
		{in: "update,", wantErr: "empty action"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseActions(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseActions(%q) = %v, %v; want an error naming %s", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseActions(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			// String gives back what parses to the same set.
			again, err := ParseActions(got.String())
			if err != nil || again != got {
				t.Errorf("round trip through %q gave %v, %v", got.String(), again, err)
			}
		})
	}
}

func TestActionsString(t *testing.T) {
	for _, tc := range []struct {
		s    Actions
		want string
	}{
		{0, "."},
		{DefaultActions, "update"},
		{Actions(List | Update), "update,list"},
		{Actions(Update | Download | List), "update,download,list"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%08b: got %q, want %q", uint8(tc.s), got, tc.want)
		}
	}
	if got := Download.String(); got != "download" {
		t.Errorf("Download.String() = %q", got)
	}
}

func TestActionsFlag(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	as := DefaultActions
	fs.Var(&as, "a", "actions")
	if err := fs.Parse([]string{"-a", "download,list"}); err != nil {
		t.Fatal(err)
	}
	if as != Actions(Download|List) {
		t.Errorf("got %v", as)
	}
	if err := fs.Parse([]string{"-a", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("bad value: %v", err)
	}
}
