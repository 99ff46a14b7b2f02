// Package store is the index's view of its roots: it discovers distribution
// files in the flat, nested and per-project layouts, keeps a listing that is
// revalidated against the directories on every request, and caches the
// immutable facts of each file (digest, size, core metadata) by identity.
//
// The freshness argument is written down in docs/consistency.md; in short:
// every request is answered from a check of every directory that started
// after the request arrived, each directory is asked for fresh attributes
// (statx with AT_STATX_FORCE_SYNC, which makes an NFS client go to the
// server), and a directory whose change time is too close to the time it was
// read is re-read instead of trusted, so coarse timestamps cannot hide a
// change.
//
// The Linux calls live in *_linux.go (built for linux without the portable
// tag); each has a twin from the standard library for other systems, and
// for Linux with -tags portable, which cannot insist on fresh attributes:
// see "The portable build" in docs/consistency.md.
package store
