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
	return func(yield func(*store.File, *store.Facts) bool) {
		for _, f := range files {
			fa, err := s.store.Facts(ctx, f)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Info("leaving a file out of a page", "path", f.Path(), "reason", err.Error())
				continue
			}
			if !yield(f, fa) {
				return
			}
		}
	}
}
