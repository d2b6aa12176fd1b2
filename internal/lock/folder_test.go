package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireFoldersExcludesAndReleases(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	missing := filepath.Join(a, "not-there")
	first, err := AcquireFolders(context.Background(), []string{b, a, missing, a}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.files) != 2 {
		t.Errorf("held %d folder locks, want 2 (each folder once, the missing one skipped)", len(first.files))
	}
	start := time.Now()
	_, err = AcquireFolders(context.Background(), []string{a}, 200*time.Millisecond)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), a) {
		t.Errorf("second lock of %s: %v, want ErrBusy naming the folder", a, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("gave up after %s, before the wait", d)
	}
	first.Unlock()
	second, err := AcquireFolders(context.Background(), []string{a, b}, time.Second)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	second.Unlock()
	if ents, _ := os.ReadDir(a); len(ents) != 0 {
		t.Errorf("locking a folder created %d entries in it", len(ents))
	}
}

func TestAcquireFoldersWaits(t *testing.T) {
	a := t.TempDir()
	first, err := AcquireFolders(context.Background(), []string{a}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); first.Unlock() }()
	second, err := AcquireFolders(context.Background(), []string{a}, 5*time.Second)
	if err != nil {
		t.Fatalf("waiting for a folder lock that is released: %v", err)
	}
	second.Unlock()
}
