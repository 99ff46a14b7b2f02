//go:build !unix

package store

import "io/fs"

// openFlags adds nothing: Windows has no FIFOs among a directory's files.
const openFlags = 0

// fromSys adds nothing: os.FileInfo carries no inode number and no change
// time here, so a file's identity is its size, modification time and type
// (docs/consistency.md, "The portable build", says what that costs).
func fromSys(fs.FileInfo, *identity) {}

// syncDir does nothing: Windows cannot flush a directory through the
// handle os.Open gives, which is opened for reading; a name made in it is
// as durable as the file system's own metadata journal makes it.
func syncDir(string) error { return nil }
