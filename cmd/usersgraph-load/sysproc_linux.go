package main

import "syscall"

// childProcAttr puts the facade in its own process group, so a terminal's
// Ctrl-C reaches only this tool, which then stops the facade after reading
// its memory; and asks the kernel to kill it should this tool die first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
