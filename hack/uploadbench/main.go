// Command uploadbench measures pkgindex's write path against a running
// server: the throughput of one large upload, and the latency of project
// page reads while several uploads run at once.
//
//	uploadbench -url http://127.0.0.1:18490 -user bench -password bench -pid 1234
package main

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
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
	flag.Parse()
	c := &client{base: *base, user: *user, password: *password}

	// One large upload: its throughput, and how much the server's memory
	// grew while it ran.
	big := wheel("bigbench", "1.0", *bigMiB<<20)
	hwm0, rss0 := memory(*pid)
	start := time.Now()
	if err := c.upload("bigbench", "1.0", "bigbench-1.0-py3-none-any.whl", big); err != nil {
		fail(err)
	}
	took := time.Since(start)
	hwm1, _ := memory(*pid)
	fmt.Printf("upload of %d MiB: %.0f ms, %.1f MiB/s; server RSS before %.1f MiB, peak before %.1f MiB, peak after %.1f MiB (growth %.1f MiB)\n",
		*bigMiB, float64(took.Milliseconds()), float64(len(big))/took.Seconds()/(1<<20),
		rss0, hwm0, hwm1, max(0, hwm1-max(hwm0, rss0)))

	// A project with a few files for the readers.
	for i := range 20 {
		v := fmt.Sprintf("0.%d", i)
		if err := c.upload("readme", v, "readme-"+v+"-py3-none-any.whl", wheel("readme", v, 1024)); err != nil {
			fail(err)
		}
	}
	stop := time.Now().Add(*duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	uploaded, errs := 0, 0
	for u := range *uploaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				v := fmt.Sprintf("%d.%d", u, n)
				err := c.upload("load", v, "load-"+v+"-py3-none-any.whl", wheel("load", v, 1<<20))
				mu.Lock()
				if err != nil {
					errs++
				} else {
					uploaded++
				}
				mu.Unlock()
			}
		}()
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
	fmt.Printf("%d uploaders of 1 MiB files and %d readers for %s: %d uploads (%.1f/s, %d failed); page reads %d, p50 %s, p99 %s, max %s; server peak RSS %.1f MiB\n",
		*uploaders, *readers, *duration, uploaded, float64(uploaded)/duration.Seconds(), errs,
		len(lat), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond), hwm2)
	if errs > 0 {
		os.Exit(1)
	}
}

type client struct{ base, user, password string }

// upload sends a file with twine's form, streaming the body.
func (c *client) upload(name, version, filename string, content []byte) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", name}, {"version", version}} {
			mw.WriteField(kv[0], kv[1])
		}
		w, _ := mw.CreateFormFile("content", filename)
		w.Write(content)
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", c.base+"/legacy/", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth(c.user, c.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("upload %s: %s", filename, resp.Status)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "uploadbench:", err)
	os.Exit(1)
}
