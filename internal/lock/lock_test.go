package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestSecondRunWaitsThenFails(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Acquire(context.Background(), dir, 200*time.Millisecond)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire: %v, want ErrBusy", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("second Acquire did not wait")
	}
	l.Unlock()
	l2, err := Acquire(context.Background(), dir, 0)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l2.Unlock()
}

// A lock held by a process that is killed is released by the kernel.
func TestKilledHolderLeavesNoStaleLock(t *testing.T) {
	if os.Getenv("LOCK_HOLDER") != "" {
		if _, err := Acquire(context.Background(), os.Getenv("LOCK_HOLDER"), 0); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=TestKilledHolderLeavesNoStaleLock")
	cmd.Env = append(os.Environ(), "LOCK_HOLDER="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(context.Background(), dir, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("while held: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatalf("after kill -9 of the holder: %v", err)
	}
	l.Unlock()
}
