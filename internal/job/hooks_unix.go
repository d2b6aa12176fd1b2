//go:build unix

package job

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes the hook the leader of a new process group, so that
// a timeout reaches everything it started.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM (or SIGKILL when kill is set) to the hook's
// process group.
func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

// groupAlive reports whether any process of the hook's group is left.
func groupAlive(cmd *exec.Cmd) bool {
	return syscall.Kill(-cmd.Process.Pid, 0) == nil
}

// joinTree does nothing: the process group made before the start holds the
// hook's whole tree.
func joinTree(cmd *exec.Cmd) func() { return func() {} }
