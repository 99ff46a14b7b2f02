package server

import (
	"context"
	"iter"

	"pkgindex.dev/pkgindex/server/store"
)

// withFacts yields each of files with its facts as they are now. A file
// that vanished or cannot be read since the listing is left out with a log
// line, rather than failing the page that lists it. It stops when ctx
// ends, which the caller learns from ctx.Err().
func (s *Server) withFacts(ctx context.Context, files []*store.File) iter.Seq2[*store.File, *store.Facts] {
	// Checked all at once, before the first is yielded: on a network file
	// system a page then costs a round trip or two deep, not one per file.
	// The store logs a file it leaves out.
	facts := s.store.FactsAll(ctx, files)
	return func(yield func(*store.File, *store.Facts) bool) {
		if ctx.Err() != nil {
			return
		}
		for i, f := range files {
			if facts[i] != nil && !yield(f, facts[i]) {
				return
			}
		}
	}
}
