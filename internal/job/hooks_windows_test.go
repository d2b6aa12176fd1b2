//go:build windows

package job

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestHookHelper is the hook of TestHookTimeoutEndsTree (and its child); it
// does nothing on its own.
func TestHookHelper(t *testing.T) {
	switch os.Getenv("ROOTSYNC_HOOK_ROLE") {
	case "hook":
		// Start a child that outlives us unless the Job Object ends it.
		child := exec.Command(os.Args[0], "-test.run=^TestHookHelper$")
		child.Env = append(os.Environ(), "ROOTSYNC_HOOK_ROLE=child")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(os.Getenv("ROOTSYNC_HOOK_PIDFILE"), []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		time.Sleep(30 * time.Second)
	case "child":
		time.Sleep(30 * time.Second)
	}
}

// running reports whether process pid has not exited.
func running(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, 0)
	return ev == uint32(windows.WAIT_TIMEOUT)
}

// TestHookTimeoutEndsTree: a hook past its timeout is ended with everything
// it started (its Job Object), not only the hook process.
func TestHookTimeoutEndsTree(t *testing.T) {
	f, err := os.CreateTemp("", "rootsync-hook-pid-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	pidFile := f.Name()
	defer os.Remove(pidFile)
	env := append(os.Environ(), "ROOTSYNC_HOOK_ROLE=hook", "ROOTSYNC_HOOK_PIDFILE="+pidFile)
	start := time.Now()
	_, err = runHook(context.Background(), Hook{Argv: []string{os.Args[0], "-test.run=^TestHookHelper$"}, Timeout: 2 * time.Second}, env)
	if err == nil || !strings.Contains(err.Error(), "timed out after 2s") {
		t.Fatalf("hook past its timeout: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second+killGrace+3*time.Second {
		t.Errorf("runHook took %s after a 2s timeout", d)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the hook wrote no child process id: %q", b)
	}
	deadline := time.Now().Add(3 * time.Second)
	for running(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if running(pid) {
		if h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid)); err == nil {
			windows.TerminateProcess(h, 1)
			windows.CloseHandle(h)
		}
		t.Fatalf("the hook's child process %d survived the timeout", pid)
	}
}
