//go:build darwin || freebsd || netbsd

package store

import "syscall"

// ctimeOf is the change time, which these systems' stat calls Ctimespec.
func ctimeOf(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }
