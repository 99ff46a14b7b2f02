// Package admin is the command-line client of the index's management API:
// `pkgindex yank`, `unyank`, `remove`, `status` and `token` call a running
// server with the credentials of a user allowed to change it.
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
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// Commands lists the subcommands this package runs, with their synopsis.
var Commands = map[string]string{
	"yank":   "yank PROJECT VERSION [--reason TEXT]   mark a release's files yanked (PEP 592)",
	"unyank": "unyank PROJECT VERSION                 undo a yank",
	"remove": "remove PROJECT VERSION                 delete a release's files",
	"status": "status PROJECT STATUS [--reason TEXT]  set a project's status (PEP 792): active, archived, quarantined, deprecated",
	"token":  "token create --project P --rights R [--expires 90d] | token list | token revoke TOKEN-OR-ID   scoped tokens (needs the index's --policy)",
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
	// passwordFile is --password-file, read when the command runs.
	passwordFile string
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
	var res Result
	if err := c.do(ctx, method, path, body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// do sends body as JSON (none if nil) and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	base := strings.TrimRight(c.Index, "/")
	for _, suffix := range []string{"/simple", "/legacy"} {
		base = strings.TrimSuffix(base, suffix)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("index URL %q: %w", c.Index, err)
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
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return refusal(resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// refusal is the error of an answer other than 200, the same whatever the
// method: the status with its standard text, then the server's message.
// The server also puts its message in the status line of answers to POST
// (for upload clients that show only that line), so the line's reason
// phrase is not used when the body says it.
func refusal(resp *http.Response, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		_, msg, _ = strings.Cut(resp.Status, " ")
	}
	status := strconv.Itoa(resp.StatusCode)
	if text := http.StatusText(resp.StatusCode); text != "" {
		status += " " + text
	}
	if msg == "" || strings.EqualFold(msg, http.StatusText(resp.StatusCode)) {
		return errors.New(status)
	}
	return fmt.Errorf("%s: %s", status, msg)
}

// Streams are what a command reads and writes besides its arguments.
type Streams struct {
	// Stdin is where a password is asked for when it is a terminal; nil
	// never asks.
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// Run runs one subcommand with its arguments; it returns the exit code.
// The index URL, user and password come from flags or from PKGINDEX_INDEX,
// PKGINDEX_USER and PKGINDEX_PASSWORD (the password is best kept there,
// out of the process list). With a user but no password, the password is
// asked for on the terminal, as twine does.
func Run(ctx context.Context, cmd string, args []string, env func(string) string, std Streams) int {
	stdout, stderr := std.Stdout, std.Stderr
	fs, c := commandFlags(cmd, env, stderr)
	reason := fs.String("reason", "", "why (yank and status)")
	pos, code := parseArgs(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 2 || c.Index == "" {
		return usageError(fs, c, stderr)
	}
	if code := c.credentials(cmd, env, std); code >= 0 {
		return code
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
		fmt.Fprintf(stderr, "pkgindex %s %s %s: %v\n", cmd, pos[0], pos[1], err)
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

// commandFlags makes the flag set of a command with the flags every
// command has: the index, the user and the password.
func commandFlags(cmd string, env func(string) string, stderr io.Writer) (*flag.FlagSet, *Client) {
	fs := flag.NewFlagSet("pkgindex "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkgindex %s\n\nflags:\n", Commands[cmd])
		fs.PrintDefaults()
	}
	c := &Client{}
	fs.StringVar(&c.Index, "index", env("PKGINDEX_INDEX"), "the index's URL (env PKGINDEX_INDEX)")
	fs.StringVar(&c.User, "user", env("PKGINDEX_USER"), "user name (env PKGINDEX_USER)")
	// The environment's password is not the flag's default: the usage
	// text prints defaults.
	fs.StringVar(&c.Password, "password", "", "password (env PKGINDEX_PASSWORD, preferred; asked for on a terminal when neither is set)")
	fs.StringVar(&c.passwordFile, "password-file", "", "read the password from this file, e.g. a projected service-account token with --user __token__")
	return fs, c
}

// parseArgs parses flags that may follow the positional arguments, as in
// "yank demo 1.0 --reason x", and returns the positional ones; code is an
// exit code when the command is done (help, a bad flag), -1 otherwise.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

// usageError prints the usage and what is missing; it returns exit code 2.
func usageError(fs *flag.FlagSet, c *Client, stderr io.Writer) int {
	fs.Usage()
	if c.Index == "" {
		fmt.Fprintln(stderr, "\n--index (or PKGINDEX_INDEX) is required")
	}
	return 2
}

// credentials completes the password from the environment or the
// terminal; it returns an exit code when it cannot, -1 otherwise.
func (c *Client) credentials(cmd string, env func(string) string, std Streams) int {
	if c.passwordFile != "" && c.Password == "" {
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			fmt.Fprintf(std.Stderr, "pkgindex %s: --password-file: %v\n", cmd, err)
			return 2
		}
		c.Password = strings.TrimSpace(string(b))
	}
	if c.Password == "" {
		c.Password = env("PKGINDEX_PASSWORD")
	}
	if c.User != "" && c.Password == "" {
		pw, err := askPassword(std.Stdin, std.Stderr, c.User)
		if err != nil {
			fmt.Fprintf(std.Stderr, "pkgindex %s: %v\n", cmd, err)
			return 2
		}
		c.Password = pw
	}
	return -1
}

// askPassword reads a password from the terminal in without echoing it;
// when in is not a terminal it says where the password should come from.
func askPassword(in *os.File, prompt io.Writer, user string) (string, error) {
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return "", fmt.Errorf("no password for user %s: set PKGINDEX_PASSWORD, or run on a terminal to be asked", user)
	}
	fmt.Fprintf(prompt, "Password for %s: ", user)
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(pw), nil
}
