// Command metadatamem measures what PEP 658 metadata requests for a hostile
// wheel cost the server: it writes a wheel of a million empty members (the
// central directory a zip reader would hold whole is then hundreds of MiB),
// and a large honest one within the limits, starts `pkgindex serve` on them,
// and sends rounds of parallel GETs of each wheel's .metadata while it
// samples the server's anonymous memory (RssAnon + RssShmem). It prints
// the memory idle and at its peak for each wheel.
//
//	go build -o bin/pkgindex . && go run ./hack/metadatamem -bin bin/pkgindex
package main

import (
	"archive/zip"
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgindex.dev/pkgindex/hack/serveproc"

	"pkgindex.dev/pkgindex/hack/procmem"
)

func main() {
	bin := flag.String("bin", "bin/pkgindex", "pkgindex binary")
	members := flag.Int("members", 1_000_000, "empty members of the hostile wheel")
	honest := flag.Int("honest", 150_000, "members of the large wheel within the limits (0: none)")
	parallel := flag.Int("parallel", 8, "requests at once")
	rounds := flag.Int("rounds", 5, "rounds of parallel requests per wheel")
	flag.Parse()

	dir, err := os.MkdirTemp("", "metadatamem-")
	check(err)
	defer os.RemoveAll(dir)
	wheels := []struct{ name string }{{writeWheel(dir, "hostile", *members)}}
	if *honest > 0 {
		wheels = append(wheels, struct{ name string }{writeWheel(dir, "honest", *honest)})
	}

	cmd := exec.Command(*bin, "serve", "--listen", "127.0.0.1:0", "--root", dir)
	cmd.Stderr = io.Discard
	p, err := serveproc.Start(cmd, nil)
	check(err)
	defer func() { cmd.Process.Signal(os.Interrupt); <-p.Done }()
	u, err := p.URL(context.Background(), time.Minute)
	check(err)
	base := strings.TrimSuffix(u, "/")

	time.Sleep(time.Second) // the first scan
	idle := anonMemory(cmd.Process.Pid)
	fmt.Printf("idle: %.1f MiB anonymous\n", procmem.MiB(idle))
	for _, w := range wheels {
		stopSampling := procmem.Peak(cmd.Process.Pid, 2*time.Millisecond)
		codes := map[int]int{}
		var mu sync.Mutex
		start := time.Now()
		for range *rounds {
			var wg sync.WaitGroup
			for range *parallel {
				wg.Go(func() {
					resp, err := http.Get(base + "/packages/" + w.name + ".metadata")
					check(err)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		took := time.Since(start)
		peak := stopSampling()
		fmt.Printf("%s: %d x %d requests %v in %s; peak %.1f MiB anonymous, %.1f MiB above idle\n",
			w.name, *rounds, *parallel, codes, took.Round(time.Millisecond), procmem.MiB(peak), procmem.MiB(peak-idle))
	}
}

// writeWheel writes a wheel of project name with n empty members before its
// METADATA, and returns its file name.
func writeWheel(dir, name string, n int) string {
	file := name + "-1.0-py3-none-any.whl"
	f, err := os.Create(filepath.Join(dir, file))
	check(err)
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	for i := range n {
		_, err := zw.CreateHeader(&zip.FileHeader{Name: strconv.FormatInt(int64(i), 36), Method: zip.Store})
		check(err)
	}
	w, err := zw.Create(name + "-1.0.dist-info/METADATA")
	check(err)
	fmt.Fprintf(w, "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n", name)
	check(zw.Close())
	check(bw.Flush())
	st, err := f.Stat()
	check(err)
	check(f.Close())
	fmt.Printf("%s: %d members, %.1f MiB\n", file, n+1, procmem.MiB(st.Size()))
	return file
}

// anonMemory is the process's resident anonymous and shared memory.
func anonMemory(pid int) int64 {
	n, err := procmem.Anon(pid)
	check(err)
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "metadatamem:", err)
		os.Exit(1)
	}
}
