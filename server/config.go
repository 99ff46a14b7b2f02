package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/flags"
	"pkgindex.dev/pkgindex/server/review"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/upstream"
)

// Config is everything `pkgindex serve` is told.
type Config struct {
	Roots        []string
	Listen       string
	HashAlgo     string
	FallbackURL  string // "" for none: unknown projects are 404
	CacheControl int    // max-age for package files, seconds; 0 for no header
	BaseURL      string // path prefix the server is mounted under, "" or "/x"
	// TrustProxy follows a reverse proxy's X-Forwarded-Proto, -Host and
	// -Prefix in the absolute URLs the server gives, when BaseURL is "".
	TrustProxy     bool
	Welcome        string // file with the welcome page template, or ""
	HealthEndpoint string
	LogFormat      string
	LogLevel       string
	// LogFile is a file the log is appended to besides LogStream, "" for
	// none; LogStream is stderr, stdout or none.
	LogFile   string
	LogStream string
	// Version asks for the version to be printed instead of serving.
	Version bool
	Guard   time.Duration
	// Layout says where under the roots a project's files may lie.
	Layout store.Layout
	// StorageTimeout bounds how long a request waits for the package
	// directories to answer a check or an open.
	StorageTimeout time.Duration
	ShutdownGrace  time.Duration
	// Passwords is the htpasswd file, auth.NoPasswords for no
	// authentication, or "" for none: protected actions are then refused.
	Passwords      string
	Authenticate   auth.Actions // actions that need credentials
	AllowPlaintext bool         // accept plain-text htpasswd entries
	Overwrite      bool         // uploads may replace an existing file
	// Writers are the users allowed the update action; empty for every
	// user of the password file.
	Writers []string
	// Policy is the policy file that decides every access instead of
	// Authenticate and Writers; "" for none.
	Policy string
	// Reviewer checks Kubernetes service-account tokens; nil for the
	// cluster the server runs in. Not a flag: for tests and embedders.
	Reviewer      *review.Reviewer
	MaxUploadSize int64 // bytes
	// TempMaxAge is how old a temporary upload file must be before it is
	// taken for the leftover of a crashed writer and removed.
	TempMaxAge time.Duration
	// HeaderTimeout is how long a client may take to send a request's
	// headers; UploadStall how long an upload may send nothing. Both keep
	// slow or stalled clients from holding connections.
	HeaderTimeout time.Duration
	UploadStall   time.Duration
	// Upstream configures the pull-through cache of other indexes; it is
	// off without URLs. Its Dir and Log are filled in by the server.
	Upstream upstream.Options
	// Notes are things the flags said that change nothing, told at start.
	Notes []string
	// Warnings are settings that start a server refusing what its user
	// most likely meant to allow, told at start at warning level.
	Warnings []string
}

// EnvPrefix starts the environment variable of every flag:
// --hash-algo is PKGINDEX_HASH_ALGO.
const EnvPrefix = "PKGINDEX_"

// listFlag collects a repeatable flag.
type listFlag struct {
	vals *[]string
	set  bool
}

// String is also called by the flag package on a zero listFlag, to learn
// whether the default is worth printing.
func (l *listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}
func (l *listFlag) Set(v string) error {
	if !l.set {
		*l.vals, l.set = nil, true
	}
	*l.vals = append(*l.vals, v)
	return nil
}

// PyPIFallback is where pypiserver sends unknown projects by default, and
// so does `pkgindex run`.
const PyPIFallback = "https://pypi.org/simple/"

// ParseFlags reads the serve command line and the PKGINDEX_* environment
// (flags win). pypiserver's spellings are accepted where they mean the same:
// roots as arguments, -p/--port, -i/-H/--interface/--host, --disable-fallback,
// --hash-algo off, -v/-vv/-vvv, the --log-* flags, --version, and
// --backend/--server, which change nothing here.
func ParseFlags(args []string, env func(string) string, stderr io.Writer) (Config, error) {
	c, err := parseFlags("pkgindex serve", args, env, stderr)
	if err != nil {
		return c, err
	}
	return c, c.checkFiles()
}

// CheckFlags reads a serve command line and environment as ParseFlags does
// but does not look for the roots and the welcome page, for a caller that
// writes the command line of a server running elsewhere: the operator,
// which must not roll out pods that would refuse to start.
func CheckFlags(args []string, env func(string) string) (Config, error) {
	return parseFlags("pkgindex serve", args, env, io.Discard)
}

// ParsePypiserverFlags reads a pypiserver command line (`pypi-server run
// ...`) as ParseFlags does, with pypiserver's one different default: unknown
// projects are redirected to PyPI's simple index unless --disable-fallback
// or --fallback-url says otherwise.
func ParsePypiserverFlags(args []string, env func(string) string, stderr io.Writer) (Config, error) {
	c, err := parseFlags("pkgindex run", args, env, stderr)
	if err != nil {
		return c, err
	}
	return c, c.checkFiles()
}

func parseFlags(name string, args []string, env func(string) string, stderr io.Writer) (Config, error) {
	pypiserver := name == "pkgindex run"
	c := Config{
		LogStream:      "stderr",
		Listen:         ":8080",
		HashAlgo:       "sha256",
		LogFormat:      "text",
		LogLevel:       "info",
		HealthEndpoint: "/health",
		Guard:          store.DefaultGuard,
		StorageTimeout: 10 * time.Second,
		ShutdownGrace:  20 * time.Second,
		Authenticate:   auth.DefaultActions,
		MaxUploadSize:  100 << 20,
		TempMaxAge:     time.Hour,
		HeaderTimeout:  10 * time.Second,
		UploadStall:    time.Minute,
	}
	if pypiserver {
		c.FallbackURL = PyPIFallback
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	roots := &listFlag{vals: &c.Roots}
	fs.Var(roots, flags.Root, "directory of packages; repeatable; the first receives uploads (default ./packages)")
	fs.StringVar(&c.Listen, flags.Listen, c.Listen, "address to listen on")
	fs.StringVar(&c.HashAlgo, flags.HashAlgo, c.HashAlgo, "digest in links: md5, sha1, sha224, sha256, sha384, sha512, blake2b, blake2s, sha3_224, sha3_256, sha3_384, sha3_512, or none")
	fs.StringVar(&c.FallbackURL, flags.FallbackURL, c.FallbackURL, "redirect requests for unknown projects to this index (off: 404)")
	disableFallback := fs.Bool(flags.DisableFallback, false, "never redirect unknown projects (the default; pypiserver spelling)")
	fs.IntVar(&c.CacheControl, flags.CacheControl, 0, "Cache-Control max-age in seconds for package files (0: no header)")
	fs.StringVar(&c.BaseURL, flags.ServerBaseURL, "/", "path prefix the index is served under")
	fs.BoolVar(&c.TrustProxy, flags.TrustProxy, false, "build absolute URLs from a reverse proxy's X-Forwarded-Proto, -Host and -Prefix (only without --server-base-url; any client can send them)")
	fs.StringVar(&c.Welcome, flags.Welcome, "", "HTML file for the welcome page (pypiserver placeholders work)")
	fs.StringVar(&c.HealthEndpoint, flags.HealthEndpoint, c.HealthEndpoint, "extra path answering like /healthz (pypiserver spelling)")
	fs.StringVar(&c.LogFormat, flags.LogFormat, c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, flags.LogLevel, c.LogLevel, "log level: debug, info, warn or error")
	fs.DurationVar(&c.Guard, flags.TimestampGuard, c.Guard, "directories and files changed this recently are re-read, not trusted by timestamp")
	layout := fs.String(flags.Layout, "any", "where a project's files lie: any (pypiserver's: anywhere under a root; every request checks every directory) or per-project (the root and <root>/<project>/; a request checks those only)")
	fs.DurationVar(&c.StorageTimeout, flags.StorageTimeout, c.StorageTimeout, "a request waiting longer for the package directories to answer gets 503 (a slow or hung network file system)")
	fs.DurationVar(&c.ShutdownGrace, flags.ShutdownGrace, c.ShutdownGrace, "time in-flight requests get to finish on SIGTERM")
	fs.StringVar(&c.Passwords, flags.Passwords, "", "htpasswd file for authentication (bcrypt, SHA1, apr1-MD5 entries); '.' for none at all")
	fs.Var(&c.Authenticate, flags.Authenticate, "actions that need credentials: comma-separated update, download, list; '.' for none")
	fs.BoolVar(&c.AllowPlaintext, flags.AllowPlaintextPasswords, false, "accept htpasswd entries whose password is stored as plain text")
	writers := &listFlag{vals: &c.Writers}
	fs.Var(writers, flags.Writers, "users allowed to upload, remove, yank and set project status (comma-separated; default: every user of the password file)")
	fs.StringVar(&c.Policy, flags.Policy, "", "policy file (YAML or JSON) giving identities rights over projects; replaces --authenticate and --writers")
	fs.BoolVar(&c.Overwrite, flags.Overwrite, false, "let an upload replace an existing file of the same name")
	maxUpload := fs.String(flags.MaxUploadSize, "100MiB", "largest file an upload may carry (bytes, or with KiB/MiB/GiB, KB/MB/GB)")
	fs.DurationVar(&c.TempMaxAge, flags.TempMaxAge, c.TempMaxAge, "remove temporary upload files older than this (left by a crashed writer)")
	fs.DurationVar(&c.HeaderTimeout, flags.HeaderTimeout, c.HeaderTimeout, "time a client may take to send a request's headers")
	fs.DurationVar(&c.UploadStall, flags.UploadStallTimeout, c.UploadStall, "time an upload may send nothing before it is cut (408)")
	upstreams := &listFlag{vals: &c.Upstream.URLs}
	fs.Var(upstreams, flags.Upstream, "Simple API index to serve projects with no local files from, cached on the first root (e.g. https://pypi.org/simple/); repeatable, asked in order")
	credFile := fs.String(flags.UpstreamCredentials, "", "file of upstream credentials: 'user:password' for every upstream, or 'URL user:password' lines (or PKGINDEX_UPSTREAM_USER and PKGINDEX_UPSTREAM_PASSWORD)")
	fs.StringVar(&c.Upstream.CAFile, flags.UpstreamCA, "", "PEM bundle of the authorities upstream certificates are checked against (default: the system's)")
	c.Upstream.Timeout, c.Upstream.TTL = upstream.DefaultTimeout, upstream.DefaultTTL
	fs.DurationVar(&c.Upstream.Timeout, flags.UpstreamTimeout, c.Upstream.Timeout, "longest wait for an upstream to connect, answer, send a page, or send more of a file")
	fs.DurationVar(&c.Upstream.TTL, flags.UpstreamTTL, c.Upstream.TTL, "an upstream page is served from the cache this long before it is revalidated")
	merge := &listFlag{vals: &c.Upstream.Merge}
	fs.Var(merge, flags.UpstreamMerge, "local projects whose upstream files are added to their pages (comma-separated, repeatable); others with local files are served from them alone")
	mergeFile := fs.String(flags.UpstreamMergeFile, "", "file of projects to merge with the upstream, one a line")
	deny := &listFlag{vals: &c.Upstream.Deny}
	fs.Var(deny, flags.UpstreamDeny, "projects never fetched from an upstream (comma-separated, repeatable)")
	denyFile := fs.String(flags.UpstreamDenyFile, "", "file of projects never fetched from an upstream, one a line")
	cacheSize := fs.String(flags.UpstreamCacheSize, "0", "most bytes of upstream files kept, least recently used evicted first (0: no limit)")
	maxPage := fs.String(flags.UpstreamMaxPageSize, "64MiB", "largest upstream project page read")
	fs.IntVar(&c.Upstream.MaxFetches, flags.UpstreamMaxFetches, upstream.DefaultMaxFetches, "upstream requests run at once by a replica")
	port := fs.Int("port", 0, "port to listen on (pypiserver spelling; combines with --host)")
	host := fs.String("host", "", "interface to listen on (pypiserver spelling; combines with --port)")
	backend := fs.String("backend", "", "auto, simple-dir or cached-dir: accepted for pypiserver compatibility; pkgindex has one backend")
	serverMethod := fs.String("server", "", "accepted for pypiserver compatibility; ignored")
	verbose := fs.Bool("v", false, "verbose: log level debug (pypiserver spelling; -vv and -vvv too)")
	fs.Var(boolAlias{verbose}, "vv", "alias of -v")
	fs.Var(boolAlias{verbose}, "vvv", "alias of -v")
	fs.StringVar(&c.LogFile, "log-file", "", "also append the log to this file (pypiserver spelling)")
	fs.StringVar(&c.LogStream, "log-stream", c.LogStream, "where the log goes: stderr, stdout or none (pypiserver spelling)")
	var ignoredFormats []string
	for _, f := range []string{"log-frmt", "log-req-frmt", "log-res-frmt", "log-err-frmt"} {
		fs.Func(f, "accepted for pypiserver compatibility; ignored (see --log-format)", func(string) error {
			ignoredFormats = append(ignoredFormats, "--"+f)
			return nil
		})
	}
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	for _, alias := range [][2]string{{"p", "port"}, {"i", "host"}, {"H", "host"}, {"interface", "host"},
		{"P", flags.Passwords}, {"a", flags.Authenticate}, {"o", flags.Overwrite}} {
		fs.Var(fs.Lookup(alias[1]).Value, alias[0], "alias of --"+alias[1])
	}

	// Environment first, so that flags given on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := env(name)
		// One-letter aliases and -vv and -vvv have their long names' variables;
		// PKGINDEX_VERSION is too likely a build's own to be read as --version.
		if v == "" || len(f.Name) <= 3 || f.Name == "version" {
			return
		}
		vals := []string{v}
		if f.Name == flags.Root {
			vals = strings.Split(v, string(os.PathListSeparator))
		}
		for _, v := range vals {
			if err := fs.Set(f.Name, v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	roots.set = false // a --root on the command line replaces the environment's
	// Arguments may mix flags and roots, as pypiserver's do.
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return c, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "run" && len(c.Roots) == 0 {
			rest = rest[1:] // "pypi-server run ..." pasted whole
			continue
		}
		if err := roots.Set(rest[0]); err != nil {
			return c, err
		}
		rest = rest[1:]
	}
	if len(c.Roots) == 0 {
		c.Roots = []string{"./packages"}
	}
	if *port != 0 || *host != "" {
		h, p, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return c, fmt.Errorf("--%s %q: %w", flags.Listen, c.Listen, err)
		}
		if *port != 0 {
			p = strconv.Itoa(*port)
		}
		if *host != "" {
			h = *host
		}
		c.Listen = net.JoinHostPort(h, p)
	}
	size, err := parseSize(*maxUpload)
	if err != nil {
		return c, fmt.Errorf("--%s %q: %w", flags.MaxUploadSize, *maxUpload, err)
	}
	c.MaxUploadSize = size
	if c.Layout, err = store.ParseLayout(*layout); err != nil {
		return c, fmt.Errorf("--%s: %w", flags.Layout, err)
	}
	c.Writers = splitList(c.Writers)
	if err := c.parseUpstream(env, *credFile, *mergeFile, *denyFile, *cacheSize, *maxPage); err != nil {
		return c, err
	}
	if *disableFallback || pypiserver && len(c.Upstream.URLs) > 0 && c.FallbackURL == PyPIFallback {
		c.FallbackURL = ""
	}
	if *verbose {
		c.LogLevel = "debug"
	}
	switch strings.ToLower(c.HashAlgo) {
	case "0", "no", "off", "false", "n", "f":
		c.HashAlgo = "none"
	}
	switch *backend {
	case "":
	case "auto", "simple-dir", "cached-dir":
		c.Notes = append(c.Notes, "--backend "+*backend+" ignored: every answer is revalidated against the directories and the digests are cached")
	default:
		return c, fmt.Errorf("--backend %q: want auto, simple-dir or cached-dir (pypiserver's backends; pkgindex has one, which is both)", *backend)
	}
	if len(ignoredFormats) > 0 {
		slices.Sort(ignoredFormats)
		c.Notes = append(c.Notes, strings.Join(slices.Compact(ignoredFormats), ", ")+" ignored: the log is structured (--log-format text or json)")
	}
	if pypiserver && c.FallbackURL == PyPIFallback {
		c.Notes = append(c.Notes, "unknown projects are redirected to "+PyPIFallback+", as pypiserver does (--disable-fallback answers 404 instead)")
	}
	if *serverMethod != "" {
		c.Notes = append(c.Notes, "--server "+*serverMethod+" ignored: pkgindex has its own HTTP server")
	}
	if c.Passwords == "" {
		for _, w := range []struct {
			act  auth.Action
			what string
		}{{auth.Download, "download"}, {auth.List, "listing"}} {
			if c.Authenticate.Has(w.act) {
				c.Warnings = append(c.Warnings, fmt.Sprintf("-a/--authenticate protects %s but no -P/--passwords file is given: every %s is refused (403)", w.act, w.what))
			}
		}
	}
	return c, c.validate()
}

// parseUpstream completes the upstream options from the files and sizes
// the flags name and the credentials in the environment.
func (c *Config) parseUpstream(env func(string) string, credFile, mergeFile, denyFile, cacheSize, maxPage string) error {
	u := &c.Upstream
	var err error
	if u.CacheSize, err = parseSize(cacheSize); err != nil {
		return fmt.Errorf("--%s %q: %w", flags.UpstreamCacheSize, cacheSize, err)
	}
	if u.MaxPageSize, err = parseSize(maxPage); err != nil {
		return fmt.Errorf("--%s %q: %w", flags.UpstreamMaxPageSize, maxPage, err)
	}
	for _, f := range []struct {
		flag, path string
		into       *[]string
	}{{flags.UpstreamMergeFile, mergeFile, &u.Merge}, {flags.UpstreamDenyFile, denyFile, &u.Deny}} {
		*f.into = splitList(*f.into)
		for i, n := range *f.into {
			(*f.into)[i] = dist.Normalize(n)
		}
		if f.path == "" {
			continue
		}
		names, err := upstream.ReadNames(f.path)
		if err != nil {
			return fmt.Errorf("--%s: %w", f.flag, err)
		}
		*f.into = append(*f.into, names...)
	}
	if credFile != "" {
		if u.Credentials, err = upstream.ReadCredentials(credFile); err != nil {
			return fmt.Errorf("--%s: %w", flags.UpstreamCredentials, err)
		}
	}
	u.Credentials = upstream.EnvCredentials(u.Credentials, env)
	return nil
}

var healthPath = regexp.MustCompile(`^/[a-zA-Z0-9/_-]+$`)

// checkFiles checks that the roots and the welcome page are there.
func (c *Config) checkFiles() error {
	var errs []error
	for _, r := range c.Roots {
		st, err := os.Stat(r)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--%s %s: %w", flags.Root, r, err))
		case !st.IsDir():
			errs = append(errs, fmt.Errorf("--%s %s: not a directory", flags.Root, r))
		}
	}
	if c.Welcome != "" {
		if _, err := os.Stat(c.Welcome); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", flags.Welcome, err))
		}
	}
	return errors.Join(errs...)
}

// validate checks the values that need no file.
func (c *Config) validate() error {
	var errs []error
	if _, ok := store.Hashes()[c.HashAlgo]; !ok && c.HashAlgo != "none" {
		errs = append(errs, fmt.Errorf("--%s %q: want md5, sha1, sha224, sha256, sha384, sha512, blake2b, blake2s, sha3_224, sha3_256, sha3_384, sha3_512 or none", flags.HashAlgo, c.HashAlgo))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--%s %q: %w", flags.Listen, c.Listen, err))
	}
	if c.FallbackURL != "" && !strings.HasPrefix(c.FallbackURL, "http://") && !strings.HasPrefix(c.FallbackURL, "https://") {
		errs = append(errs, fmt.Errorf("--%s %q: want an http:// or https:// URL", flags.FallbackURL, c.FallbackURL))
	}
	for _, u := range c.Upstream.URLs {
		if err := upstream.CheckURL(u); err != nil {
			// The URL is not repeated: it may hold a password.
			errs = append(errs, fmt.Errorf("--%s: %w", flags.Upstream, err))
		}
	}
	if len(c.Upstream.URLs) > 0 {
		if c.FallbackURL != "" {
			errs = append(errs, fmt.Errorf("--%s and --%s exclude each other: the upstream serves unknown projects", flags.Upstream, flags.FallbackURL))
		}
		if c.Upstream.Timeout <= 0 {
			errs = append(errs, fmt.Errorf("--%s %s: want more than 0", flags.UpstreamTimeout, c.Upstream.Timeout))
		}
		if c.Upstream.TTL < 0 {
			errs = append(errs, fmt.Errorf("--%s %s: want 0 or more", flags.UpstreamTTL, c.Upstream.TTL))
		}
		if c.Upstream.MaxFetches <= 0 {
			errs = append(errs, fmt.Errorf("--%s %d: want more than 0", flags.UpstreamMaxFetches, c.Upstream.MaxFetches))
		}
		if c.Upstream.MaxPageSize <= 0 {
			errs = append(errs, fmt.Errorf("--%s: want more than 0", flags.UpstreamMaxPageSize))
		}
		if c.Upstream.CAFile != "" {
			if _, err := os.Stat(c.Upstream.CAFile); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %w", flags.UpstreamCA, err))
			}
		}
	}
	if c.CacheControl < 0 {
		errs = append(errs, fmt.Errorf("--%s %d: want seconds, 0 or more", flags.CacheControl, c.CacheControl))
	}
	base := "/" + strings.Trim(c.BaseURL, "/")
	if base != path.Clean(base) || strings.ContainsAny(base, "{}? #%") {
		errs = append(errs, fmt.Errorf("--%s %q: want a plain path such as /pypi", flags.ServerBaseURL, c.BaseURL))
	}
	c.BaseURL = strings.TrimSuffix(base, "/")
	if !strings.HasPrefix(c.HealthEndpoint, "/") {
		errs = append(errs, fmt.Errorf("--%s %q: want a path starting with '/', such as /%s", flags.HealthEndpoint, c.HealthEndpoint, c.HealthEndpoint))
	} else if !healthPath.MatchString(c.HealthEndpoint) {
		errs = append(errs, fmt.Errorf("--%s %q: want a path of letters, digits, '/', '_' and '-'", flags.HealthEndpoint, c.HealthEndpoint))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--%s %q: want text or json", flags.LogFormat, c.LogFormat))
	}
	switch c.LogStream {
	case "stderr", "stdout", "none":
	default:
		errs = append(errs, fmt.Errorf("--log-stream %q: want stderr, stdout or none", c.LogStream))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--%s %q: want debug, info, warn or error", flags.LogLevel, c.LogLevel))
	}
	if c.StorageTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--%s %s: want more than 0", flags.StorageTimeout, c.StorageTimeout))
	}
	if c.Guard < 0 {
		errs = append(errs, fmt.Errorf("--%s %s: want 0 or more", flags.TimestampGuard, c.Guard))
	}
	if c.MaxUploadSize <= 0 {
		errs = append(errs, fmt.Errorf("--%s %d: want more than 0", flags.MaxUploadSize, c.MaxUploadSize))
	}
	if c.HeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--%s %s: want more than 0", flags.HeaderTimeout, c.HeaderTimeout))
	}
	if c.UploadStall <= 0 {
		errs = append(errs, fmt.Errorf("--%s %s: want more than 0", flags.UploadStallTimeout, c.UploadStall))
	}
	if c.Policy != "" {
		if len(c.Writers) > 0 {
			errs = append(errs, fmt.Errorf("--%s and --%s: name the writers in the policy", flags.Policy, flags.Writers))
		}
		if c.Passwords == auth.NoPasswords {
			errs = append(errs, fmt.Errorf("--%s and --%s .: without a password file, leave --%s out", flags.Policy, flags.Passwords, flags.Passwords))
		}
	}
	if c.TempMaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("--%s %s: want a minute or more, longer than any upload takes", flags.TempMaxAge, c.TempMaxAge))
	}
	return errors.Join(errs...)
}

// boolAlias is another name of a bool flag, set by its presence.
type boolAlias struct{ b *bool }

func (a boolAlias) String() string {
	if a.b == nil {
		return "false"
	}
	return strconv.FormatBool(*a.b)
}
func (a boolAlias) Set(v string) error {
	b, err := strconv.ParseBool(v)
	*a.b = b
	return err
}
func (a boolAlias) IsBoolFlag() bool { return true }

// splitList splits comma-separated values of a repeatable flag.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for w := range strings.SplitSeq(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				out = append(out, w)
			}
		}
	}
	return out
}

// parseSize reads a byte count, optionally with a binary (KiB, MiB, GiB)
// or decimal (KB, MB, GB) unit.
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("want a byte count such as 104857600 or 100MiB")
	}
	return n * mult, nil
}
