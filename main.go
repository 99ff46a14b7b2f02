// Command pkgindex is a private Python package index and the Kubernetes
// operator that runs it. Subcommands:
//
//	pkgindex serve [flags] [root ...]   run the index server
//	pkgindex run [flags] [root ...]     the same as pypiserver's pypi-server run (also as the binary named pypi-server)
//	pkgindex yank|unyank|remove|status  change a running index (management API)
//	pkgindex update [-x] ... root ...   newer releases of the roots' projects upstream (pypiserver's update)
//	pkgindex operator [flags]           run the Kubernetes operator
//	pkgindex version                    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"

	"pkgindex.dev/pkgindex/controllers"
	"pkgindex.dev/pkgindex/server"
	"pkgindex.dev/pkgindex/server/admin"
	"pkgindex.dev/pkgindex/server/logging"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/update"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// imageRepository is where release images are published; the operator's
// default server image is this repository at the operator's own version.
const imageRepository = "ghcr.io/pkgindex/pkgindex"

func main() {
	// Nothing here reads heap profiles, and the runtime's sampling would
	// keep a table of allocation stacks in memory that a server at 50,000
	// files cannot spare (up to 1.4 MiB).
	runtime.MemProfileRate = 0
	os.Exit(run(commandArgs(os.Args[0], os.Args[1:]), os.Stdout, os.Stderr))
}

// commandArgs are the arguments run takes: installed as pypi-server, the
// binary is pypiserver's command, whose command lines and scripts then run
// unchanged as `pkgindex run` (with or without pypiserver's own "run").
func commandArgs(argv0 string, args []string) []string {
	if strings.TrimSuffix(filepath.Base(argv0), ".exe") != "pypi-server" {
		return args
	}
	if len(args) > 0 && (args[0] == "update" || args[0] == "-h" || args[0] == "--help") {
		return args
	}
	return append([]string{"run"}, args...)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve("pkgindex serve", server.ParseFlags, args[1:], stdout, stderr)
	case "run":
		return serve("pkgindex run", server.ParsePypiserverFlags, args[1:], stdout, stderr)
	case "update":
		return update.Run(context.Background(), args[1:], os.Getenv, stdout, stderr)
	case "yank", "unyank", "remove", "status":
		return admin.Run(context.Background(), args[0], args[1:], os.Getenv, admin.Streams{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
	case "token":
		return admin.RunToken(context.Background(), args[1:], os.Getenv, admin.Streams{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
	case "operator":
		return operator(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "pkgindex", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "pkgindex: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: pkgindex <command> [flags]

commands:
  serve     run the package index (pkgindex serve --help for its flags)
  run       the same with pypiserver's defaults: pypi-server run's command line works unchanged
            (the binary installed as pypi-server runs this)
  yank      mark a release yanked:      pkgindex yank --index URL PROJECT VERSION [--reason TEXT]
  unyank    undo a yank:                pkgindex unyank --index URL PROJECT VERSION
  remove    delete a release's files:   pkgindex remove --index URL PROJECT VERSION
  status    set a project's status:     pkgindex status --index URL PROJECT active|archived|quarantined|deprecated
  update    list newer releases of the roots' projects on an index, or download them (pypiserver's update):
            pkgindex update [-x] [-d DIR] [-u] [--ignorelist-file FILE] [--index-url URL] ROOT...
  token     scoped tokens:              pkgindex token create --index URL --project P --rights upload [--expires 90d]
                                        pkgindex token list --index URL;  pkgindex token revoke --index URL TOKEN-OR-ID
  operator  run the Kubernetes operator (pkgindex operator --help for its flags)
  version   print the version

yank, unyank, remove, status and token take --user and the password from PKGINDEX_PASSWORD,
or ask for it on a terminal.
`)
}

// parseFunc reads a server command line: serve's or pypiserver's.
type parseFunc func(args []string, env func(string) string, stderr io.Writer) (server.Config, error)

func serve(name string, parse parseFunc, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if cfg.Version {
		fmt.Fprintln(stdout, "pkgindex", version)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	logTo, closeLog, err := logWriter(cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	defer closeLog()
	log := logging.New(logTo, cfg.LogFormat, cfg.LogLevel)
	for _, n := range cfg.Notes {
		log.Info(n)
	}
	for _, w := range cfg.Warnings {
		logging.Warn(log, w)
	}
	if limit := server.TuneGC(os.Getenv, "/sys/fs/cgroup"); limit > 0 {
		log.Info("Go memory limit set from the cgroup's", "bytes", limit)
	}
	st, err := store.New(cfg.StoreOptions(log))
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	srv, err := server.New(cfg, st, log, version)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = srv.Run(ctx, func(addr net.Addr) {
		url := "http://" + displayAddr(addr) + cfg.BaseURL + "/"
		log.Info("serving", "url", url, "roots", srv.Store().Roots(), "version", version)
		fmt.Fprintf(stdout, "pkgindex %s serving %v at %s\ntry: pip install --index-url %ssimple/ <project>\n",
			version, srv.Store().Roots(), url, url)
	})
	if err != nil {
		log.Error(err, "server stopped")
		return 1
	}
	return 0
}

func operator(args []string, stderr io.Writer) int {
	cfg, err := controllers.ParseManagerFlags(args, imageRepository+":"+version, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "pkgindex operator:", err)
		return 2
	}
	cfg.CheckServer = checkServe
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	ctrl.SetLogger(log)
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintln(stderr, "pkgindex operator: finding the cluster:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := controllers.Run(ctx, cfg, restConfig, log); err != nil {
		log.Error(err, "operator stopped")
		return 1
	}
	return 0
}

// checkServe is the operator's check of index pods' command lines: the
// server's own parser, which the operator package does not link.
func checkServe(args []string, env func(string) string) (roots []string, listen string, err error) {
	c, err := server.CheckFlags(args, env)
	return c.Roots, c.Listen, err
}

// logWriter is where the log goes: --log-stream, and --log-file besides.
func logWriter(cfg server.Config, stdout, stderr io.Writer) (io.Writer, func(), error) {
	var ws []io.Writer
	switch cfg.LogStream {
	case "stderr":
		ws = append(ws, stderr)
	case "stdout":
		ws = append(ws, stdout)
	}
	closeLog := func() {}
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		ws = append(ws, f)
		closeLog = func() { f.Close() }
	}
	return io.MultiWriter(ws...), closeLog, nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
