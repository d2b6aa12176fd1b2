//go:build !unix && !windows

package job

import "os/exec"

// On systems without process groups a hook's timeout stops the hook itself.

func ownProcessGroup(cmd *exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, kill bool) { _ = cmd.Process.Kill() }

func groupAlive(cmd *exec.Cmd) bool { return false }

func joinTree(cmd *exec.Cmd) func() { return func() {} }
