package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"pkgindex.dev/pkgindex/hack/netfs"
	"pkgindex.dev/pkgindex/server/pkgtest"
)

// Config is one run of the checker.
type Config struct {
	Binary   string        // pkgindex binary; built when empty
	Tags     string        // build tags for a built binary
	Root     string        // shared root; a temporary one when empty
	Replicas int           // server processes
	Clients  int           // concurrent clients
	Projects int           // projects the clients share
	Duration time.Duration // how long the clients run
	Kills    int           // replica kills (and restarts) during the run
	Versions int           // most versions per project (0: no limit; the soak keeps the index's size steady)
	Layout   string        // the replicas' --layout; "" for their default
	// Writers change the root directly, as another client or a sync job
	// would: copy files in, write them in place, remove and move them.
	Writers int
	// NetFS serves each replica its own mount of the root through the
	// NFS-like rig (hack/netfs), each mount charging Latency per round
	// trip; the writers keep writing the root itself.
	NetFS   bool
	Latency time.Duration
	// Sample, when set, prints memory, descriptors and latency at this
	// interval (the soak).
	Sample  time.Duration
	Verbose bool
	// History, when set, is a file the history is written to, one event
	// per line as JSON, in the order the events ended.
	History string
}

// Operation names in the history.
const (
	opUpload   = "upload"
	opRemove   = "remove"
	opYank     = "yank"
	opUnyank   = "unyank"
	opList     = "list"
	opDownload = "download"

	// Changes made in the root directly (external.go), not through a
	// replica. A rename to another name is two events of one span: the
	// name it leaves and the name it takes.
	opCopy   = "cp"      // whole bytes written to a hidden name, renamed into place
	opWrite  = "write"   // created and written in place: visible while partial
	opRm     = "rm"      // unlinked
	opMv     = "mv"      // moved to another directory under the same name
	opMvFrom = "mv-from" // renamed away
	opMvTo   = "mv-to"   // renamed to, with the bytes of the name it came from
)

// Event is one operation of the history, as a client saw it.
type Event struct {
	Op      string
	Replica int    // -1 for a change made in the root directly
	Project string // normalized
	Version string
	File    string // the release's one wheel, or, for a change in the root, a wheel or an sdist
	Start   time.Time
	End     time.Time
	Status  int    // HTTP status; 0 when no answer came
	Err     string // why no answer came
	// SHA256 is, for an upload, the digest of the bytes sent; for a
	// download, of the bytes received; for a change in the root that adds
	// a name, of the bytes it holds after the change.
	SHA256 string
	// Size is, for a download, how many bytes were received.
	Size int64
	// Content is, for a file written in place, its bytes: a listing or a
	// download made while it was written may show any prefix of them.
	Content []byte
	// Listing is what a list answered, by file name (an unknown project is
	// an empty listing).
	Listing map[string]Listed
	// ListedAt and ListedSHA256 are, for a download, when the listing that
	// offered the file started and the digest it gave.
	ListedAt     time.Time
	ListedSHA256 string
	// Final marks the reads after the clients stopped, with every replica
	// up: each must be answered.
	Final bool
}

// Listed is a file as a project page lists it.
type Listed struct {
	URL    string
	SHA256 string
	Size   int64
	Yanked bool
}

// history is the record all clients append to.
type history struct {
	mu     sync.Mutex
	events []Event
}

func (h *history) add(e Event) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

// Run starts the replicas, drives the clients for cfg.Duration, reads
// every project through every replica once more, stops the replicas and
// checks the history. Progress goes to logw.
func Run(ctx context.Context, cfg Config, logw io.Writer) (*Result, error) {
	cfg.Replicas = max(cfg.Replicas, 1)
	cfg.Clients = max(cfg.Clients, 1)
	cfg.Projects = max(cfg.Projects, 1)
	work, err := os.MkdirTemp("", "pkgindex-consistency-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if cfg.Binary == "" {
		cfg.Binary = filepath.Join(work, "pkgindex")
		fmt.Fprintf(logw, "building pkgindex (tags %q)\n", cfg.Tags)
		if err := Build(ctx, cfg.Tags, cfg.Binary); err != nil {
			return nil, err
		}
	}
	if cfg.Root == "" {
		cfg.Root = filepath.Join(work, "root")
		if err := os.Mkdir(cfg.Root, 0o755); err != nil {
			return nil, err
		}
	}
	// Each replica serves the root through its own mount, or the root.
	// The mounts are made first: where FUSE is missing, nothing is built.
	roots := make([]string, cfg.Replicas)
	var mounts *rig
	if cfg.NetFS {
		mounts, err = mountRig(cfg.Root, filepath.Join(work, "mnt"), cfg.Replicas, netfs.Options{Latency: cfg.Latency})
		if err != nil {
			return nil, err
		}
		// Deferred before the replicas are: they are stopped first, so
		// no mount is busy when it goes.
		defer func() {
			if err := mounts.unmount(); err != nil {
				fmt.Fprintf(logw, "unmounting: %v\n", err)
			}
		}()
		for i := range roots {
			roots[i] = mounts.dir(i)
		}
	} else {
		for i := range roots {
			roots[i] = cfg.Root
		}
	}
	pw := filepath.Join(work, "htpasswd")
	if err := writeHtpasswd(pw); err != nil {
		return nil, err
	}
	logDir := os.Getenv("CONSISTENCY_LOGS")
	if logDir == "" {
		logDir = work
	}
	args := make([][]string, len(roots))
	for i, root := range roots {
		args[i] = []string{"--root", root, "--passwords", pw, "--log-level", "warn"}
		if cfg.Layout != "" {
			args[i] = append(args[i], "--layout", cfg.Layout)
		}
	}
	reps, err := startAll(ctx, cfg.Binary, args, logDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range reps {
			r.kill()
		}
	}()
	where := cfg.Root
	if cfg.NetFS {
		where = fmt.Sprintf("their own NFS-like mounts of %s (%s per round trip)", cfg.Root, cfg.Latency)
	}
	fmt.Fprintf(logw, "%d replicas on %s (layout %q); %d clients and %d writers in the root for %s, %d kills\n",
		len(reps), where, cfg.Layout, cfg.Clients, cfg.Writers, cfg.Duration, cfg.Kills)

	w := &workload{
		reps:   reps,
		rig:    mounts,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}},
		h:      &history{},
	}
	for i := range cfg.Projects {
		w.projects = append(w.projects, &project{name: fmt.Sprintf("cc-%c", 'a'+i), limit: cfg.Versions})
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	outErrs := make([]error, cfg.Writers)
	for i := range cfg.Writers {
		o := &outsider{
			id: i, root: cfg.Root, shared: cfg.Layout != "per-project", projects: w.projects, h: w.h,
			rng:   rand.New(rand.NewPCG(uint64(1000+i), uint64(time.Now().UnixNano()))),
			names: map[string][]*extName{}, made: map[string]int{},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if outErrs[i] = o.run(runCtx); outErrs[i] != nil {
				cancel() // the history no longer says what the root holds
			}
		}()
	}
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.client1(runCtx, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))))
		}()
	}
	var samples []Sample
	if cfg.Sample > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples = w.sampler(runCtx, cfg.Sample, logw)
		}()
	}
	var killErr error
	if cfg.Kills > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			killErr = w.killer(runCtx, cfg.Kills, cfg.Duration, logw)
		}()
	}
	wg.Wait()
	if err := errors.Join(append(outErrs, killErr)...); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// The final sweep: every project through every replica, once nothing
	// changes any more. Any upload that returned 2xx and was not removed
	// must be there.
	// Every file listed is downloaded too: none may be partial.
	w.final = true
	for _, p := range w.projects {
		for _, r := range reps {
			page := w.list(ctx, nil, r.id, p.name)
			for name, l := range page.Listing {
				w.download(ctx, r.id, p.name, name, l, page.Start)
			}
		}
	}
	printSoak(logw, samples)
	if err := stopAll(reps); err != nil {
		return nil, err
	}
	if mounts != nil {
		mounts.report(logw)
	}
	if cfg.History != "" {
		if err := writeHistory(cfg.History, w.h.events); err != nil {
			return nil, err
		}
	}
	return Check(w.h.events), nil
}

// project is what the clients know of one project: the versions used so
// far, from which removals, yanks and repeated uploads pick.
type project struct {
	name     string
	limit    int // most versions ever used; 0 for no limit
	next     atomic.Int64
	mu       sync.Mutex
	versions []string
}

// newVersion names a version not used before, or, once the limit is
// reached, any used one: the soak keeps the index's size steady, so that
// growth in memory is the server's and not the data's.
func (p *project) newVersion(rng *rand.Rand) string {
	n := p.next.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && int(n) > p.limit {
		return p.versions[rng.IntN(len(p.versions))]
	}
	v := fmt.Sprintf("1.%d", n)
	p.versions = append(p.versions, v)
	return v
}

func (p *project) oldVersion(rng *rand.Rand) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.versions) == 0 {
		return "", false
	}
	n := len(p.versions)
	if p.limit > 0 && n >= p.limit {
		return p.versions[rng.IntN(n)], true
	}
	// Recent versions more often: they are the ones under contention.
	return p.versions[n-1-rng.IntN(min(n, 8))], true
}

type workload struct {
	reps     []*replica
	rig      *rig // the replicas' mounts, when on the NFS-like rig
	projects []*project
	client   *http.Client
	h        *history
	final    bool // set once the clients have stopped
}

// client1 is one client: a random operation through a random replica,
// over and over, until ctx ends.
func (w *workload) client1(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		p := w.projects[rng.IntN(len(w.projects))]
		rep := rng.IntN(len(w.reps))
		switch n := rng.IntN(100); {
		case n < 50:
			w.list(ctx, rng, rep, p.name)
		case n < 75:
			v := ""
			if rng.IntN(4) == 0 {
				v, _ = p.oldVersion(rng)
			}
			if v == "" {
				v = p.newVersion(rng)
			}
			w.upload(ctx, rep, p.name, v)
		default:
			v, ok := p.oldVersion(rng)
			if !ok {
				continue
			}
			op := []string{opRemove, opYank, opUnyank}[rng.IntN(3)]
			w.change(ctx, rep, op, p.name, v)
		}
	}
}

func (w *workload) base(rep int) string { return "http://" + w.reps[rep].addr }

// do sends req and fills the event's end, status and error.
func (w *workload) do(req *http.Request, e *Event) []byte {
	req.SetBasicAuth(user, password)
	resp, err := w.client.Do(req)
	if err != nil {
		e.End, e.Err = time.Now(), err.Error()
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	e.End = time.Now()
	if err != nil {
		// A body cut short is no answer: the status alone says nothing
		// about a file's bytes.
		e.Err = err.Error()
		return nil
	}
	e.Status = resp.StatusCode
	return body
}

// upload sends a wheel of the version whose bytes are new each time (a
// random summary), so that two uploads of one name differ and a download
// tells which one it got.
func (w *workload) upload(ctx context.Context, rep int, name, version string) {
	spec := pkgtest.Spec{Name: name, Version: version, Summary: "nonce " + crand.Text()}
	content := spec.WheelBytes()
	sum := sha256.Sum256(content)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField(":action", "file_upload")
	mw.WriteField("protocol_version", "1")
	mw.WriteField("name", name)
	mw.WriteField("version", version)
	mw.WriteField("sha256_digest", hex.EncodeToString(sum[:]))
	fw, _ := mw.CreateFormFile("content", spec.WheelName())
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), "POST", w.base(rep)+"/legacy/", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	e := Event{Op: opUpload, Replica: rep, Project: name, Version: version, File: spec.WheelName(),
		SHA256: hex.EncodeToString(sum[:]), Start: time.Now()}
	w.do(req, &e)
	w.h.add(e)
}

// change removes, yanks or unyanks a release through the management API.
func (w *workload) change(ctx context.Context, rep int, op, name, version string) {
	method, path := "POST", "/api/projects/"+name+"/releases/"+version+"/"+op
	var body io.Reader
	switch op {
	case opRemove:
		method, path = "DELETE", "/api/projects/"+name+"/releases/"+version
	case opYank:
		body = bytes.NewReader([]byte(`{"reason":"checker"}`))
	}
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), method, w.base(rep)+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	spec := pkgtest.Spec{Name: name, Version: version}
	e := Event{Op: op, Replica: rep, Project: name, Version: version, File: spec.WheelName(), Start: time.Now()}
	w.do(req, &e)
	w.h.add(e)
}

// list reads a project page as JSON and then, when rng is given, downloads
// up to two of the files it lists. It returns the listing's event.
func (w *workload) list(ctx context.Context, rng *rand.Rand, rep int, name string) Event {
	page := w.base(rep) + "/simple/" + name + "/"
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), "GET", page, nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	e := Event{Op: opList, Replica: rep, Project: name, Start: time.Now(), Final: w.final}
	body := w.do(req, &e)
	switch e.Status {
	case http.StatusOK:
		l, err := parseListing(page, body)
		if err != nil {
			e.Err, e.Status = err.Error(), 0
			e.Listing = nil
		} else {
			e.Listing = l
		}
	case http.StatusNotFound:
		e.Listing = map[string]Listed{}
	}
	w.h.add(e)
	if rng == nil || len(e.Listing) == 0 {
		return e
	}
	names := make([]string, 0, len(e.Listing))
	for n := range e.Listing {
		names = append(names, n)
	}
	for range min(2, len(names)) {
		n := names[rng.IntN(len(names))]
		w.download(ctx, rng.IntN(len(w.reps)), name, n, e.Listing[n], e.Start)
	}
	return e
}

// download fetches a listed file, through any replica, and records the
// digest of what came.
func (w *workload) download(ctx context.Context, rep int, project, file string, l Listed, listedAt time.Time) {
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), "GET", l.URL, nil)
	// The listing's URL points at the replica that answered it; the file
	// must be there on every replica.
	req.URL.Host = w.reps[rep].addr
	e := Event{Op: opDownload, Replica: rep, Project: project, File: file, Start: time.Now(),
		ListedAt: listedAt, ListedSHA256: l.SHA256, Final: w.final}
	body := w.do(req, &e)
	if e.Status == http.StatusOK {
		sum := sha256.Sum256(body)
		e.SHA256, e.Size = hex.EncodeToString(sum[:]), int64(len(body))
	}
	w.h.add(e)
}

// parseListing reads a PEP 691 project page.
func parseListing(page string, body []byte) (map[string]Listed, error) {
	var doc struct {
		Files []struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Hashes   map[string]string `json:"hashes"`
			Size     int64             `json:"size"`
			Yanked   any               `json:"yanked"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("project page: %w", err)
	}
	base, err := url.Parse(page)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Listed, len(doc.Files))
	for _, f := range doc.Files {
		u, err := base.Parse(f.URL)
		if err != nil {
			return nil, fmt.Errorf("file URL %q: %w", f.URL, err)
		}
		u.Fragment = ""
		yanked := false
		switch y := f.Yanked.(type) {
		case bool:
			yanked = y
		case string:
			yanked = true
		}
		out[f.Filename] = Listed{URL: u.String(), SHA256: f.Hashes["sha256"], Size: f.Size, Yanked: yanked}
	}
	return out, nil
}

// killer SIGKILLs a replica n times, evenly over the run, and restarts it
// on the same address after a moment down. On the rig every second
// restart is on a new mount, as a pod rescheduled onto another node is a
// new NFS client; the others keep the mount, as a container restarted in
// its pod does.
func (w *workload) killer(ctx context.Context, n int, d time.Duration, logw io.Writer) error {
	every := d / time.Duration(n+1)
	for i := range n {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
		r := w.reps[i%len(w.reps)]
		fmt.Fprintf(logw, "killing replica %d (SIGKILL)\n", r.id)
		r.kill()
		time.Sleep(500 * time.Millisecond)
		if w.rig != nil && i%2 == 1 {
			if err := w.rig.remount(r.id); err != nil {
				return fmt.Errorf("remounting replica %d's root: %w", r.id, err)
			}
			fmt.Fprintf(logw, "replica %d's root remounted\n", r.id)
		}
		if err := r.start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("restarting replica %d: %w", r.id, err)
		}
		fmt.Fprintf(logw, "replica %d restarted\n", r.id)
	}
	return nil
}

// writeHistory writes events to path, one a line as JSON.
func writeHistory(path string, events []Event) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the history: %w", err)
	}
	enc := json.NewEncoder(f)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			f.Close()
			return fmt.Errorf("writing the history to %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the history to %s: %w", path, err)
	}
	return nil
}
