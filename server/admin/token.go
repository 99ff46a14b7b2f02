package admin

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"pkgindex.dev/pkgindex/server/tokens"
)

// Token is a scoped token as the management API shows it; Token is set
// only in the answer that made it.
type Token struct {
	Token string `json:"token"`
	tokens.Record
}

// TokenRequest is what a new token is asked for.
type TokenRequest struct {
	Projects    []string `json:"projects"`
	Rights      []string `json:"rights"`
	Expires     string   `json:"expires,omitempty"`
	Description string   `json:"description,omitempty"`
}

// CreateToken makes a scoped token; the answer holds the token, which the
// index shows only this once.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (*Token, error) {
	var t Token
	return &t, c.do(ctx, "POST", "/api/tokens", req, &t)
}

// ListTokens lists the tokens the caller made or may revoke.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var ts []Token
	return ts, c.do(ctx, "GET", "/api/tokens", nil, &ts)
}

// RevokeToken revokes a token given by itself or by its id. Only the id is
// sent: the secret never leaves the machine for this.
func (c *Client) RevokeToken(ctx context.Context, tokenOrID string) (*Token, error) {
	id, err := tokens.ParseID(tokenOrID)
	if err != nil {
		return nil, err
	}
	var t Token
	return &t, c.do(ctx, "DELETE", "/api/tokens/"+url.PathEscape(id), nil, &t)
}

// RunToken runs `pkgindex token create|list|revoke`; it returns the exit
// code.
func RunToken(ctx context.Context, args []string, env func(string) string, std Streams) int {
	stdout, stderr := std.Stdout, std.Stderr
	fs, c := commandFlags("token", env, stderr)
	var req TokenRequest
	fs.Func("project", "a project the token may act on (repeatable; create)", func(v string) error {
		req.Projects = append(req.Projects, splitWords(v)...)
		return nil
	})
	fs.Func("rights", "rights the token carries, comma-separated: upload, yank, remove, status, download, list (create)", func(v string) error {
		req.Rights = append(req.Rights, splitWords(v)...)
		return nil
	})
	fs.StringVar(&req.Expires, "expires", "90d", "lifetime, such as 90d or 12h, at most 366d (create)")
	fs.StringVar(&req.Description, "description", "", "what the token is for (create)")
	pos, code := parseArgs(fs, args)
	if code >= 0 {
		return code
	}
	want := map[string]int{"create": 1, "list": 1, "revoke": 2}
	if len(pos) == 0 || want[pos[0]] != len(pos) || c.Index == "" {
		return usageError(fs, c, stderr)
	}
	if code := c.credentials("token", env, std); code >= 0 {
		return code
	}
	switch pos[0] {
	case "create":
		t, err := c.CreateToken(ctx, req)
		if err != nil {
			fmt.Fprintf(stderr, "pkgindex token create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "token %s: %s over %s until %s; it is shown only now\n",
			t.ID, strings.Join(t.Rights, ","), strings.Join(t.Projects, ","), t.Expires.Format(time.RFC3339))
		// Alone on standard output, so that a script can take it.
		fmt.Fprintln(stdout, t.Token)
	case "list":
		ts, err := c.ListTokens(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "pkgindex token list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tOWNER\tPROJECTS\tRIGHTS\tEXPIRES\tDESCRIPTION")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Owner, orAny(strings.Join(t.Projects, ",")),
				strings.Join(t.Rights, ","), t.Expires.Format(time.RFC3339), t.Description)
		}
		tw.Flush()
	case "revoke":
		t, err := c.RevokeToken(ctx, pos[1])
		if err != nil {
			fmt.Fprintf(stderr, "pkgindex token revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked token %s of %s\n", t.ID, t.Owner)
	}
	return 0
}

func orAny(s string) string {
	if s == "" {
		return "(its owner's)"
	}
	return s
}

func splitWords(v string) []string {
	var out []string
	for w := range strings.SplitSeq(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
