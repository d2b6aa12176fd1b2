package storetest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Serve starts a server program (nginx, Apache) for the rest of the test and
// waits until it accepts connections on every port given, on 127.0.0.1. When
// the test is done it sends the server stop and kills it if it has not
// exited 10 seconds later. A server that exits first, or does not listen
// within 10 seconds, fails the test with its output and the files logs
// names. Serve sets cmd's standard output and error.
func Serve(t testing.TB, cmd *exec.Cmd, stop os.Signal, ports []int, logs ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	failf := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "\n" + out.String()
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			msg += string(b)
		}
		t.Fatal(msg)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-done:
				done <- err // for the cleanup, which waits for the exit too
				failf("%s exited: %v", cmd.Path, err)
			default:
			}
			if time.Now().After(deadline) {
				failf("%s does not listen on %d: %v", cmd.Path, port, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
