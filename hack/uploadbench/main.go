// Command uploadbench measures pkgindex's write path against a running
// server: the throughput of one large upload (with the digests twine sends,
// then with SHA-256 alone), and the latency of project page reads while
// several uploads run at once. The concurrent uploads' files and digests
// are made before the clock starts, so the client's hashing does not take
// the processors the server is measured on.
//
//	uploadbench -url http://127.0.0.1:18490 -user bench -password bench -pid 1234
package main

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/blake2b"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18490", "server base URL")
	user := flag.String("user", "bench", "user allowed to upload")
	password := flag.String("password", "bench", "password")
	pid := flag.Int("pid", 0, "server process id, to read its memory")
	bigMiB := flag.Int("big", 50, "size of the single large upload, MiB")
	uploaders := flag.Int("uploaders", 10, "concurrent uploaders of 1 MiB files")
	readers := flag.Int("readers", 10, "concurrent readers of a project page")
	duration := flag.Duration("duration", 10*time.Second, "how long the concurrent phase runs")
	perUploader := flag.Int("files", 0, "1 MiB files made beforehand for each concurrent uploader (default: 20 a second of -duration)")
	rounds := flag.Int("rounds", 5, "rounds of the large upload")
	ddDir := flag.String("dd-dir", "", "directory on the server's file system where dd writes the large upload's bytes in each round (none: no dd)")
	digestList := flag.String("digests", strings.Join(twineDigests, ","), "digests the concurrent uploads send, computed by the client for each file")
	flag.Parse()
	if *rounds < 1 {
		fail(fmt.Errorf("-rounds must be at least 1"))
	}
	c := &client{base: *base, user: *user, password: *password}

	// One large upload: its throughput, and how much the server's memory
	// grew while it ran. Once with the digests twine, poetry and pdm send
	// (md5, SHA-256 and BLAKE2b-256, all three checked), once with SHA-256
	// alone. Each round writes as many bytes with dd first, so the disk's
	// speed is measured beside the upload's, in the same state.
	// A wheel of the size and payload of every round's, for dd and for
	// timing the digests alone; made once, as it is 50 MiB.
	ref := wheel("bigbench", "0", *bigMiB<<20)
	var dd *ddRun
	if *ddDir != "" {
		dd = newDD(*ddDir, ref)
		cleanups = append(cleanups, dd.close)
		defer dd.close()
	}
	for i, digests := range [][]string{twineDigests, {"sha256"}} {
		var ups, dds []time.Duration
		var used []cpuUse
		growth := 0.0
		var size int
		for round := range *rounds {
			v := fmt.Sprintf("1.%d.%d", i, round)
			big := wheel("bigbench", v, *bigMiB<<20)
			size = len(big)
			f := encode("bigbench", v, "bigbench-"+v+"-py3-none-any.whl", big, digestFields(big, digests))
			if dd != nil {
				dds = append(dds, dd.run())
			}
			resetPeak(*pid)
			_, rss0 := memory(*pid)
			cpu0 := takeCPU(*pid)
			start := time.Now()
			if err := c.upload(f); err != nil {
				fail(err)
			}
			took := time.Since(start)
			ups = append(ups, took)
			used = append(used, takeCPU(*pid).since(cpu0, took))
			hwm, _ := memory(*pid)
			growth = max(growth, hwm-rss0)
		}
		mibs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / (1 << 20) }
		up := median(ups)
		fmt.Printf("upload of %d MiB sending %s, %d rounds: median %s, %.0f MiB/s (best %s); server RSS growth at most %.1f MiB\n",
			*bigMiB, strings.Join(digests, ", "), *rounds, ms(up), mibs(up), ms(slices.Min(ups)), growth)
		u := used[slices.Index(ups, up)]
		fmt.Printf("  in the median round the server used %s of CPU, the client %s; the machine's %d processors were busy %.0f%% of the time\n",
			ms(u.server), ms(u.client), cpus, 100*u.busy)
		hashing := hashTime(ref, digests)
		fmt.Printf("  the digests alone, one goroutine each as in the server: %s, %.0f MiB/s\n", ms(hashing), mibs(hashing))
		if dd != nil {
			d := median(dds)
			fmt.Printf("  dd of a wheel of the same size and payload, with fsync: median %s, %.0f MiB/s; the upload takes %.2fx dd's time, %.2fx that of the slower of dd and the digests\n",
				ms(d), mibs(d), up.Seconds()/d.Seconds(), up.Seconds()/max(d, hashing).Seconds())
		}
	}

	// A project with a few files for the readers.
	for i := range 20 {
		v := fmt.Sprintf("0.%d", i)
		if err := c.upload(encode("readme", v, "readme-"+v+"-py3-none-any.whl", wheel("readme", v, 1024), nil)); err != nil {
			fail(err)
		}
	}
	if *perUploader == 0 {
		*perUploader = int(duration.Seconds() * 20)
	}
	var concurrentDigests []string
	if *digestList != "" {
		concurrentDigests = strings.Split(*digestList, ",")
	}
	// Each uploader's forms, digests included, are made before the clock
	// starts, so the client's own work does not take the server's CPU.
	work := make([][]form, *uploaders)
	var prep sync.WaitGroup
	for u := range work {
		prep.Go(func() {
			for n := range *perUploader {
				v := fmt.Sprintf("%d.%d", u, n)
				body := wheel("load", v, 1<<20)
				work[u] = append(work[u], encode("load", v, "load-"+v+"-py3-none-any.whl", body, digestFields(body, concurrentDigests)))
			}
		})
	}
	prep.Wait()
	stop := time.Now().Add(*duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	uploaded, errs, ranOut := 0, 0, 0
	for _, files := range work {
		wg.Go(func() {
			for _, f := range files {
				if !time.Now().Before(stop) {
					return
				}
				err := c.upload(f)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					uploaded++
				}
				mu.Unlock()
			}
			mu.Lock()
			ranOut++
			mu.Unlock()
		})
	}
	for range *readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := http.Get(c.base + "/simple/readme/")
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	hwm2, _ := memory(*pid)
	fmt.Printf("%d uploaders of 1 MiB files sending %q and %d readers for %s: %d uploads (%.1f/s, %d failed); page reads %d, p50 %s, p99 %s, max %s; server peak RSS %.1f MiB\n",
		*uploaders, *digestList, *readers, *duration, uploaded, float64(uploaded)/duration.Seconds(), errs,
		len(lat), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond), hwm2)
	if ranOut > 0 {
		fmt.Printf("%d uploaders ran out of files before the end: raise -files\n", ranOut)
	}
	if errs > 0 {
		fail(fmt.Errorf("%d uploads failed", errs))
	}
}

// cpus is the number of processors /proc/stat counts the idle time of.
var cpus = func() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}()

// cpuSample is what the server, this process and the machine had used of
// the processors at one moment.
type cpuSample struct {
	server, client time.Duration
	idle           float64 // the machine's idle time, in clock ticks
}

// cpuUse is the processor time used between two samples.
type cpuUse struct {
	server, client time.Duration
	busy           float64 // the fraction of the machine's capacity in use
}

func takeCPU(pid int) cpuSample {
	var s cpuSample
	// A thread's schedstat starts with its time on a processor, in ns; a
	// thread that ends between two samples is missed (the server's
	// threads live as long as it does).
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range threads {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		var ns int64
		fmt.Sscan(string(b), &ns)
		s.server += time.Duration(ns)
	}
	s.client = ownCPU()
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait ...
		var user, nice, system, idle, iowait float64
		fmt.Sscanf(string(b), "cpu %f %f %f %f %f", &user, &nice, &system, &idle, &iowait)
		s.idle = idle + iowait
	}
	return s
}

func (s cpuSample) since(before cpuSample, wall time.Duration) cpuUse {
	ticks := wall.Seconds() * 100 * float64(cpus) // USER_HZ is 100
	return cpuUse{
		server: s.server - before.server,
		client: s.client - before.client,
		busy:   max(0, 1-(s.idle-before.idle)/ticks),
	}
}

// ddRun writes a file's bytes with dd, flushed, as a disk's speed is
// commonly measured.
type ddRun struct{ src, dst string }

func newDD(dir string, data []byte) *ddRun {
	d := &ddRun{src: filepath.Join(dir, "uploadbench-dd-src"), dst: filepath.Join(dir, "uploadbench-dd-dst")}
	if err := os.WriteFile(d.src, data, 0o644); err != nil {
		fail(err)
	}
	return d
}

// run returns the time dd reports for one copy.
func (d *ddRun) run() time.Duration {
	cmd := exec.Command("dd", "if="+d.src, "of="+d.dst, "bs=1M", "conv=fsync")
	cmd.Env = append(os.Environ(), "LC_ALL=C") // its figures with a decimal point
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail(fmt.Errorf("dd: %v: %s", err, out))
	}
	os.Remove(d.dst)
	// "52428800 bytes (52 MB, 50 MiB) copied, 0.0314 s, 1.7 GB/s"
	_, after, _ := strings.Cut(string(out), "copied, ")
	secs, _, _ := strings.Cut(after, " s")
	sec, err := strconv.ParseFloat(secs, 64)
	if err != nil {
		fail(fmt.Errorf("dd printed %q", out))
	}
	return time.Duration(sec * float64(time.Second))
}

func (d *ddRun) close() { os.Remove(d.src) }

// hashTime is the best of three times to compute the digests of data, one
// goroutine each, as the server does.
func hashTime(data []byte, algos []string) time.Duration {
	best := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		var wg sync.WaitGroup
		for _, algo := range algos {
			wg.Go(func() { digestFields(data, []string{algo}) })
		}
		wg.Wait()
		best = min(best, time.Since(start))
	}
	return best
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

type client struct{ base, user, password string }

// twineDigests are the digests twine sends with every file.
var twineDigests = []string{"md5", "sha256", "blake2_256"}

// digestFields computes the named digests of content as form fields.
func digestFields(content []byte, algos []string) map[string]string {
	fields := map[string]string{}
	for _, algo := range algos {
		var sum []byte
		switch algo {
		case "md5":
			s := md5.Sum(content)
			sum = s[:]
		case "sha256":
			s := sha256.Sum256(content)
			sum = s[:]
		case "blake2_256":
			s := blake2b.Sum256(content)
			sum = s[:]
		default:
			fail(fmt.Errorf("unknown digest %q", algo))
		}
		fields[algo+"_digest"] = hex.EncodeToString(sum)
	}
	return fields
}

// form is an upload as twine sends it, encoded.
type form struct {
	filename, ctype string
	body            []byte
}

// encode makes a file's upload form, the digest fields before the file.
func encode(name, version, filename string, content []byte, digests map[string]string) form {
	var buf bytes.Buffer
	buf.Grow(len(content) + 4096)
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", name}, {"version", version}} {
		mw.WriteField(kv[0], kv[1])
	}
	for k, v := range digests {
		mw.WriteField(k, v)
	}
	w, _ := mw.CreateFormFile("content", filename)
	w.Write(content)
	mw.Close()
	return form{filename, mw.FormDataContentType(), buf.Bytes()}
}

// upload sends an encoded form.
func (c *client) upload(f form) error {
	req, _ := http.NewRequest("POST", c.base+"/legacy/", bytes.NewReader(f.body))
	req.Header.Set("Content-Type", f.ctype)
	req.SetBasicAuth(c.user, c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("upload %s: %s", f.filename, resp.Status)
	}
	return nil
}

// payloads are random (incompressible) bytes, made once per size so that
// the client spends its time sending, not generating.
var payloads sync.Map

// wheel builds a valid wheel with a payload of random bytes, stored rather
// than deflated.
func wheel(name, version string, payload int) []byte {
	p, ok := payloads.Load(payload)
	if !ok {
		b := make([]byte, payload)
		rand.Read(b)
		p, _ = payloads.LoadOrStore(payload, b)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	info := name + "-" + version + ".dist-info/"
	w, _ := zw.Create(info + "METADATA")
	fmt.Fprintf(w, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)
	w, _ = zw.Create(info + "WHEEL")
	io.WriteString(w, "Wheel-Version: 1.0\nGenerator: uploadbench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: name + "/data.bin", Method: zip.Store})
	w.Write(p.([]byte))
	zw.Close()
	return buf.Bytes()
}

// resetPeak makes the process's peak resident set its current one
// (proc(5), clear_refs), so the next peak read is that of what follows.
func resetPeak(pid int) {
	if pid == 0 {
		return
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		fail(fmt.Errorf("resetting the server's peak RSS: %w", err))
	}
}

// memory returns the process's peak and current resident set, MiB.
func memory(pid int) (hwm, rss float64) {
	if pid == 0 {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb float64
		if n, _ := fmt.Sscanf(l, "VmHWM: %f kB", &kb); n == 1 {
			hwm = kb / 1024
		}
		if n, _ := fmt.Sscanf(l, "VmRSS: %f kB", &kb); n == 1 {
			rss = kb / 1024
		}
	}
	return hwm, rss
}

// cleanups are run before the program exits on a failure.
var cleanups []func()

func fail(err error) {
	for _, c := range cleanups {
		c()
	}
	fmt.Fprintln(os.Stderr, "uploadbench:", err)
	os.Exit(1)
}
