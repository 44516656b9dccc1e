//go:build !unix

package main

import "syscall"

// childProcAttr: no process groups here; the nodes share the dev-cluster's
// console and are stopped one by one.
func childProcAttr(int) *syscall.SysProcAttr { return nil }
