//go:build !unix

package job

import "os/exec"

// On systems without process groups a hook's timeout stops the hook itself.

func ownProcessGroup(cmd *exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, kill bool) { _ = cmd.Process.Kill() }

func groupAlive(cmd *exec.Cmd) bool { return false }
