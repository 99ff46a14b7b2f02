// Package admin is the command-line client of the index's management API:
// `pkgindex yank`, `unyank`, `remove` and `status` call a running server
// with the credentials of a user allowed to change it.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Commands lists the subcommands this package runs, with their synopsis.
var Commands = map[string]string{
	"yank":   "yank PROJECT VERSION [--reason TEXT]   mark a release's files yanked (PEP 592)",
	"unyank": "unyank PROJECT VERSION                 undo a yank",
	"remove": "remove PROJECT VERSION                 delete a release's files",
	"status": "status PROJECT STATUS [--reason TEXT]  set a project's status (PEP 792): active, archived, quarantined, deprecated",
}

// Client calls one index's management API.
type Client struct {
	// Index is the server's base URL, e.g. http://pkgindex:8080 (a trailing
	// /simple/ or /legacy/ is ignored, so the URL given to pip or twine
	// works too).
	Index    string
	User     string
	Password string
	HTTP     *http.Client
}

// Result is what the server reports it changed.
type Result struct {
	Project string   `json:"project"`
	Version string   `json:"version"`
	Files   []string `json:"files"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason"`
}

// Yank marks every file of a release yanked with the given reason.
func (c *Client) Yank(ctx context.Context, project, version, reason string) (*Result, error) {
	return c.call(ctx, http.MethodPost, releasePath(project, version)+"/yank", map[string]string{"reason": reason})
}

// Unyank clears a release's yank.
func (c *Client) Unyank(ctx context.Context, project, version string) (*Result, error) {
	return c.call(ctx, http.MethodPost, releasePath(project, version)+"/unyank", nil)
}

// Remove deletes every file of a release.
func (c *Client) Remove(ctx context.Context, project, version string) (*Result, error) {
	return c.call(ctx, http.MethodDelete, releasePath(project, version), nil)
}

// SetStatus sets a project's PEP 792 status.
func (c *Client) SetStatus(ctx context.Context, project, status, reason string) (*Result, error) {
	return c.call(ctx, http.MethodPut, "/api/projects/"+url.PathEscape(project)+"/status",
		map[string]string{"status": status, "reason": reason})
}

func releasePath(project, version string) string {
	return "/api/projects/" + url.PathEscape(project) + "/releases/" + url.PathEscape(version)
}

func (c *Client) call(ctx context.Context, method, path string, body any) (*Result, error) {
	base := strings.TrimRight(c.Index, "/")
	for _, suffix := range []string{"/simple", "/legacy"} {
		base = strings.TrimSuffix(base, suffix)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("index URL %q: %w", c.Index, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return &res, nil
}

// Run runs one subcommand with its arguments; it returns the exit code.
// The index URL, user and password come from flags or from PKGINDEX_INDEX,
// PKGINDEX_USER and PKGINDEX_PASSWORD (the password is best kept there,
// out of the process list).
func Run(ctx context.Context, cmd string, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkgindex "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkgindex %s\n\nflags:\n", Commands[cmd])
		fs.PrintDefaults()
	}
	c := &Client{}
	fs.StringVar(&c.Index, "index", env("PKGINDEX_INDEX"), "the index's URL (env PKGINDEX_INDEX)")
	fs.StringVar(&c.User, "user", env("PKGINDEX_USER"), "user name (env PKGINDEX_USER)")
	fs.StringVar(&c.Password, "password", env("PKGINDEX_PASSWORD"), "password (env PKGINDEX_PASSWORD, preferred)")
	reason := fs.String("reason", "", "why (yank and status)")
	// Flags may follow the positional arguments, as in "yank demo 1.0
	// --reason x".
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 2 || c.Index == "" {
		fs.Usage()
		if c.Index == "" {
			fmt.Fprintln(stderr, "\n--index (or PKGINDEX_INDEX) is required")
		}
		return 2
	}
	var res *Result
	var err error
	switch cmd {
	case "yank":
		res, err = c.Yank(ctx, pos[0], pos[1], *reason)
	case "unyank":
		res, err = c.Unyank(ctx, pos[0], pos[1])
	case "remove":
		res, err = c.Remove(ctx, pos[0], pos[1])
	case "status":
		res, err = c.SetStatus(ctx, pos[0], pos[1], *reason)
	default:
		fmt.Fprintf(stderr, "pkgindex: unknown command %q\n", cmd)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "pkgindex %s: %v\n", cmd, err)
		return 1
	}
	switch cmd {
	case "status":
		fmt.Fprintf(stdout, "%s is now %s\n", res.Project, res.Status)
	default:
		for _, f := range res.Files {
			fmt.Fprintf(stdout, "%sed %s\n", strings.TrimSuffix(cmd, "e"), f)
		}
	}
	return 0
}
