package store

import "errors"

// Errors callers branch on.
var (
	// ErrNotFound means no root holds the requested file or project.
	ErrNotFound = errors.New("not found")
	// ErrOutsideRoot means a path, or a symbolic link on it, leads out of
	// its root.
	ErrOutsideRoot = errors.New("path leaves its root")
	// ErrBadPath means a requested path is not one the index serves: empty
	// or hidden segments, "..", or bytes no file name may hold.
	ErrBadPath = errors.New("invalid path")
	// ErrExists means a file of that name is already published.
	ErrExists = errors.New("file already exists")
	// ErrReadOnly means a change was asked of a file in a root other than
	// the first, which the index reads but never writes.
	ErrReadOnly = errors.New("file is in a read-only root")
	// ErrTimeout means the file system did not answer a check within
	// Options.Timeout: a network file system that is slow or hangs.
	ErrTimeout = errors.New("storage did not answer in time")
)
