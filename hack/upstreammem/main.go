// Command upstreammem measures what streaming one big upstream file to many
// clients at once costs `pkgindex serve --upstream`: it serves a file of
// -size bytes from a local upstream (a PEP 503 page with its digest),
// starts the server with an empty cache, sends -clients parallel GETs of
// the uncached file while it samples the server's anonymous memory
// (RssAnon + RssShmem), checks every client's bytes, then does the same
// once more with the file cached. It prints the memory idle and at its
// peak, the time taken and how many times the upstream was asked.
//
//	go build -o bin/pkgindex . && go run ./hack/upstreammem -bin bin/pkgindex
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pkgindex.dev/pkgindex/hack/serveproc"

	"pkgindex.dev/pkgindex/hack/procmem"
)

func main() {
	bin := flag.String("bin", "bin/pkgindex", "pkgindex binary")
	size := flag.Int64("size", 1<<30, "bytes of the file")
	clients := flag.Int("clients", 20, "clients at once")
	flag.Parse()

	dir, err := os.MkdirTemp("", "upstreammem-")
	check(err)
	defer os.RemoveAll(dir)
	const name = "big-1.0-py3-none-any.whl"
	sum := writeFile(filepath.Join(dir, name), *size)

	var asked atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/big/":
			fmt.Fprintf(w, `<a href="/files/%s#sha256=%x">%s</a>`, name, sum, name)
		case "/files/" + name:
			asked.Add(1)
			http.ServeFile(w, r, filepath.Join(dir, name))
		default:
			http.NotFound(w, r)
		}
	}))

	root := filepath.Join(dir, "root")
	check(os.Mkdir(root, 0o755))
	cmd := exec.Command(*bin, "serve", "--listen", "127.0.0.1:0", "--root", root, "--upstream", "http://"+ln.Addr().String()+"/simple/")
	cmd.Stderr = io.Discard
	p, err := serveproc.Start(cmd, nil)
	check(err)
	defer func() { cmd.Process.Signal(os.Interrupt); <-p.Done }()
	u, err := p.URL(context.Background(), time.Minute)
	check(err)
	base := strings.TrimSuffix(u, "/")

	resp, err := http.Get(base + "/simple/big/")
	check(err)
	resp.Body.Close()
	time.Sleep(time.Second)
	idle, err := procmem.Anon(cmd.Process.Pid)
	check(err)
	fmt.Printf("file: %.0f MiB; idle: %.1f MiB anonymous\n", procmem.MiB(*size), procmem.MiB(idle))
	for _, round := range []string{"uncached", "cached"} {
		stopSampling := procmem.Peak(cmd.Process.Pid, 5*time.Millisecond)
		var bad atomic.Int32
		start := time.Now()
		var wg sync.WaitGroup
		for range *clients {
			wg.Go(func() {
				resp, err := http.Get(base + "/packages/.upstream/big/" + name)
				check(err)
				defer resp.Body.Close()
				h := sha256.New()
				n, err := io.Copy(h, resp.Body)
				if err != nil || n != *size || [32]byte(h.Sum(nil)) != sum {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		peak := stopSampling()
		fmt.Printf("%s: %d clients in %s, %d with wrong bytes; peak %.1f MiB anonymous, %.1f MiB above idle; upstream asked %d times in all\n",
			round, *clients, took.Round(time.Millisecond), bad.Load(), procmem.MiB(peak), procmem.MiB(peak-idle), asked.Load())
	}
}

// writeFile writes n bytes that do not compress and returns their SHA-256.
func writeFile(path string, n int64) [32]byte {
	f, err := os.Create(path)
	check(err)
	bw := bufio.NewWriterSize(f, 1<<20)
	h := sha256.New()
	w := io.MultiWriter(bw, h)
	block := sha256.Sum256([]byte(path))
	for n > 0 {
		block = sha256.Sum256(block[:])
		m := min(n, int64(len(block)))
		w.Write(block[:m])
		n -= m
	}
	check(bw.Flush())
	check(f.Close())
	return [32]byte(h.Sum(nil))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstreammem:", err)
		os.Exit(1)
	}
}
