//go:build unix && !linux

package main

import "syscall"

// childProcAttr puts a dev-cluster node in process group pgid (0: a new
// group led by the node). Without Linux's Pdeathsig, nodes outlive a
// dev-cluster that is killed with SIGKILL.
func childProcAttr(pgid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
}
