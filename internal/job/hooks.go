package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Hook is a command run after its target changed, as an argument list (no
// shell). A failing hook rolls the whole job back.
type Hook struct {
	Argv    []string
	Timeout time.Duration // 0 means DefaultHookTimeout
}

// DefaultHookTimeout bounds a hook that names no timeout.
const DefaultHookTimeout = time.Minute

// killGrace is how long a hook's process group has between SIGTERM and
// SIGKILL once its timeout expired or the run was interrupted.
const killGrace = time.Second

// outputGrace is how long rootsync keeps reading a hook's output after the
// hook exited: a background process it started may hold the output open, and
// rootsync does not wait for it (nor stop it).
const outputGrace = 500 * time.Millisecond

func (h Hook) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return DefaultHookTimeout
}

// HookError is a hook that failed, with what it printed.
type HookError struct {
	Argv   []string
	Err    error
	Output string
}

func (e *HookError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("hook %q failed: %v%s", strings.Join(e.Argv, " "), e.Err, out)
}

func (e *HookError) Unwrap() error { return e.Err }

// hookEnv is the process environment without the variables named in hide
// (the password variables rootsync read).
func hookEnv(hide []string) []string {
	drop := map[string]bool{}
	for _, h := range hide {
		drop[h] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// runHooks runs hooks in order and stops at the first that fails.
func runHooks(ctx context.Context, hooks []Hook, env []string, log *zap.Logger) error {
	for _, h := range hooks {
		if len(h.Argv) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return &HookError{Argv: h.Argv, Err: fmt.Errorf("not run: %w", err)}
		}
		out, err := runHook(ctx, h, env)
		log.Info("hook", zap.Strings("argv", h.Argv), zap.Bool("ok", err == nil))
		if err != nil {
			return &HookError{Argv: h.Argv, Err: err, Output: out}
		}
	}
	return nil
}

// runHook runs one hook in a process group of its own (on Windows: a Job
// Object). When the hook exits
// rootsync stops waiting for its output within outputGrace, and leaves
// processes it started alone. When its timeout expires or ctx ends, the
// whole process group gets SIGTERM, and SIGKILL killGrace later.
func runHook(ctx context.Context, h Hook, env []string) (string, error) {
	cmd := exec.Command(h.Argv[0], h.Argv[1:]...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = outputGrace
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	release := joinTree(cmd)
	defer release()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(h.timeout())
	defer timer.Stop()
	var err error
	var stopped error
	select {
	case err = <-done:
	case <-timer.C:
		stopped = fmt.Errorf("timed out after %s", h.timeout())
	case <-ctx.Done():
		stopped = fmt.Errorf("stopped: %w", ctx.Err())
	}
	if stopped != nil {
		err = stopGroup(cmd, done)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The hook exited successfully; something it started still holds
		// its output, which is none of rootsync's business.
		err = nil
	}
	if stopped != nil {
		return out.String(), stopped
	}
	return out.String(), err
}

// stopGroup sends SIGTERM to the hook's process group, waits up to killGrace
// for the group to be gone, then sends SIGKILL, and returns Wait's result.
func stopGroup(cmd *exec.Cmd, done <-chan error) error {
	signalGroup(cmd, false)
	deadline := time.Now().Add(killGrace)
	var err error
	exited := false
	for time.Now().Before(deadline) {
		if !exited {
			select {
			case err = <-done:
				exited = true
			default:
			}
		}
		if exited && !groupAlive(cmd) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	signalGroup(cmd, true)
	if !exited {
		err = <-done
	}
	return err
}
