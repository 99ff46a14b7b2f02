//go:build unix && !darwin && !freebsd && !netbsd && (!linux || portable)

package store

import "syscall"

// ctimeOf is the change time, which these systems' stat calls Ctim.
func ctimeOf(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }
