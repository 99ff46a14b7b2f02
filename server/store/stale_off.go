//go:build !stalecache

package store

// staleReuse is the hook of the deliberately broken stalecache build (see
// stale_on.go); in every real build it returns nil and costs nothing.
func (s *Store) staleReuse() *Snapshot { return nil }
