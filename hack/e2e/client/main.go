// Command client is the e2e tests' traffic: it writes wheels to upload with
// twine, runs a loop of uploads and downloads against an index while the
// cluster under it changes, then checks that no request failed and no
// accepted upload was lost, and, in a Job's pod, uploads one wheel with the
// password in a file (a projected service-account token) and checks the
// answer's status.
//
//	client wheel -dir DIR -name NAME -version VERSION
//	client loop -url URL -user USER -password PASSWORD -project NAME [-uploaders 2] [-readers 2]
//	client upload -url URL -user USER -password-file FILE -name NAME -version VERSION [-expect 200]
//
// The loop runs until SIGTERM or SIGINT, or until -duration passes. Every
// request opens a new connection, as a client arriving at that moment
// would, so each one is routed by the Service as it is then.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "wheel":
		err = wheel(os.Args[2:])
	case "loop":
		err = loop(os.Args[2:])
	case "upload":
		err = uploadOne(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: client wheel|loop|upload [flags]")
	os.Exit(2)
}

func wheel(args []string) error {
	fs := flag.NewFlagSet("wheel", flag.ExitOnError)
	dir := fs.String("dir", ".", "directory to write the wheel into")
	name := fs.String("name", "", "project name")
	version := fs.String("version", "1.0", "version")
	fs.Parse(args)
	if *name == "" {
		return errors.New("wheel: -name is required")
	}
	s := pkgtest.Spec{Name: *name, Version: *version, Summary: "pkgindex e2e"}
	path := filepath.Join(*dir, s.WheelName())
	if err := os.WriteFile(path, s.WheelBytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Println(path)
	return nil
}

// uploadOne uploads a wheel made on the spot, as a job in the cluster
// would, and fails unless the index answers with the expected status.
func uploadOne(args []string) error {
	fs := flag.NewFlagSet("upload", flag.ExitOnError)
	base := fs.String("url", "", "index base URL, e.g. http://10.96.0.10:8080")
	user := fs.String("user", "__token__", "user name")
	passwordFile := fs.String("password-file", "", "file holding the password, e.g. a projected service-account token")
	name := fs.String("name", "", "project name")
	version := fs.String("version", "1.0", "version")
	expect := fs.Int("expect", http.StatusOK, "the status the upload must be answered with")
	fs.Parse(args)
	if *base == "" || *passwordFile == "" || *name == "" {
		return errors.New("upload: -url, -password-file and -name are required")
	}
	password, err := os.ReadFile(*passwordFile)
	if err != nil {
		return fmt.Errorf("upload: reading the password: %w", err)
	}
	s := pkgtest.Spec{Name: *name, Version: *version, Summary: "pkgindex e2e"}
	c := &http.Client{Timeout: 30 * time.Second}
	code, status, err := post(c, *base, *user, strings.TrimSpace(string(password)), s, s.WheelBytes())
	if err != nil {
		return fmt.Errorf("upload %s: %w", s.WheelName(), err)
	}
	fmt.Printf("upload %s: %s\n", s.WheelName(), status)
	if code != *expect {
		return fmt.Errorf("upload %s: answered %s, want %d", s.WheelName(), status, *expect)
	}
	return nil
}

// uploaded is an upload the server accepted.
type uploaded struct {
	name   string
	digest string
}

type stats struct {
	mu        sync.Mutex
	uploads   int
	downloads int
	failures  []string
	accepted  []uploaded
}

func (s *stats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := time.Now().UTC().Format("15:04:05.000") + " " + fmt.Sprintf(format, args...)
	s.failures = append(s.failures, msg)
	fmt.Fprintln(os.Stderr, "client: FAILED", msg)
}

func loop(args []string) error {
	fs := flag.NewFlagSet("loop", flag.ExitOnError)
	base := fs.String("url", "", "index base URL, e.g. http://10.96.0.10:8080")
	user := fs.String("user", "", "user allowed to upload")
	password := fs.String("password", "", "password")
	project := fs.String("project", "e2e-loop", "project to upload into; one per loop")
	uploaders := fs.Int("uploaders", 2, "concurrent uploaders")
	readers := fs.Int("readers", 2, "concurrent readers")
	duration := fs.Duration("duration", 0, "stop after this long (0: at SIGTERM or SIGINT)")
	fs.Parse(args)
	if *base == "" {
		return errors.New("loop: -url is required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	c := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}
	st := &stats{}
	var wg sync.WaitGroup
	start := time.Now()
	for u := range *uploaders {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				s := pkgtest.Spec{Name: *project, Version: fmt.Sprintf("%d.%d", u, n)}
				body := s.WheelBytes()
				err := upload(c, *base, *user, *password, s, body)
				st.mu.Lock()
				st.uploads++
				st.mu.Unlock()
				if err != nil {
					st.fail("upload %s: %v", s.WheelName(), err)
					continue
				}
				sum := sha256.Sum256(body)
				st.mu.Lock()
				st.accepted = append(st.accepted, uploaded{s.WheelName(), hex.EncodeToString(sum[:])})
				st.mu.Unlock()
			}
		})
	}
	for range *readers {
		wg.Go(func() {
			for ctx.Err() == nil {
				err := readOnce(c, *base, *project)
				st.mu.Lock()
				st.downloads++
				st.mu.Unlock()
				if err != nil {
					st.fail("read: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	took := time.Since(start).Round(time.Millisecond)

	// Every accepted upload must be listed with its digest and downloadable
	// with the same bytes.
	lost := 0
	files, err := listing(c, *base, *project)
	if err != nil {
		return fmt.Errorf("listing %s after the loop: %w", *project, err)
	}
	for _, u := range st.accepted {
		f, ok := files[u.name]
		if !ok || f.Hashes["sha256"] != u.digest {
			lost++
			fmt.Fprintf(os.Stderr, "client: LOST %s (listed: %v)\n", u.name, ok)
			continue
		}
		if err := download(c, f.URL, *base, *project, u.digest); err != nil {
			lost++
			fmt.Fprintf(os.Stderr, "client: LOST %s: %v\n", u.name, err)
		}
	}
	fmt.Printf("loop %s: %s, %d uploads (%d accepted), %d reads, %d failed requests, %d lost uploads\n",
		*project, took, st.uploads, len(st.accepted), st.downloads, len(st.failures), lost)
	if len(st.failures) > 0 || lost > 0 {
		return fmt.Errorf("loop %s: %d failed requests, %d lost uploads", *project, len(st.failures), lost)
	}
	if len(st.accepted) == 0 {
		return fmt.Errorf("loop %s: no upload was accepted", *project)
	}
	return nil
}

// upload sends a file with twine's form and fails unless it is accepted.
func upload(c *http.Client, base, user, password string, s pkgtest.Spec, body []byte) error {
	code, status, err := post(c, base, user, password, s, body)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return errors.New(status)
	}
	return nil
}

// post sends a file with twine's form and returns the answer's status code
// and line, which holds the server's reason for a refusal.
func post(c *http.Client, base, user, password string, s pkgtest.Spec, body []byte) (int, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", s.Name}, {"version", s.Version}} {
		mw.WriteField(kv[0], kv[1])
	}
	sum := sha256.Sum256(body)
	mw.WriteField("sha256_digest", hex.EncodeToString(sum[:]))
	w, _ := mw.CreateFormFile("content", s.WheelName())
	w.Write(body)
	mw.Close()
	req, err := http.NewRequest("POST", base+"/legacy/", &buf)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth(user, password)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Status, nil
}

type file struct {
	Filename string            `json:"filename"`
	URL      string            `json:"url"`
	Hashes   map[string]string `json:"hashes"`
}

// listing reads the PEP 691 project page.
func listing(c *http.Client, base, project string) (map[string]file, error) {
	req, err := http.NewRequest("GET", base+"/simple/"+project+"/", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, resp.Body)
		return map[string]file{}, nil // nothing uploaded yet
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /simple/%s/: %s", project, resp.Status)
	}
	var page struct {
		Files []file `json:"files"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("GET /simple/%s/: %w", project, err)
	}
	out := make(map[string]file, len(page.Files))
	for _, f := range page.Files {
		out[f.Filename] = f
	}
	return out, nil
}

// readOnce reads the project page and downloads its newest-listed file.
func readOnce(c *http.Client, base, project string) error {
	files, err := listing(c, base, project)
	if err != nil {
		return err
	}
	for _, f := range files {
		return download(c, f.URL, base, project, f.Hashes["sha256"])
	}
	return nil
}

// download fetches a file by its link (relative to the project page) and
// checks its digest.
func download(c *http.Client, link, base, project, digest string) error {
	page, err := url.Parse(base + "/simple/" + project + "/")
	if err != nil {
		return err
	}
	ref, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("link %q: %w", link, err)
	}
	target := page.ResolveReference(ref)
	target.Fragment = ""
	u := target.String()
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("GET %s: sha256 %s, listed %s", u, got, digest)
	}
	return nil
}
