package main

import "syscall"

// childProcAttr puts a dev-cluster node in process group pgid (0: a new
// group led by the node) and has the kernel send it SIGTERM when the
// dev-cluster dies, so no node outlives it.
func childProcAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGTERM}
}
