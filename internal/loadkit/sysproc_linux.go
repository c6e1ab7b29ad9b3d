package loadkit

import "syscall"

// childProcAttr puts the facade in its own process group, so a terminal's
// Ctrl-C reaches only the command that started it, which then stops the
// facade after reading its memory; and asks the kernel to kill it should
// that command die first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
