//go:build linux

package journal

import "github.com/rootsync/rootsync/internal/atomicfile"

// flushStaged makes the staged journal, the backup it names and what the
// caller wrote in dirs durable: one syncfs per file system.
func flushStaged(_, stateDir string, dirs []string) error {
	return atomicfile.SyncFS(append([]string{stateDir}, dirs...)...)
}
