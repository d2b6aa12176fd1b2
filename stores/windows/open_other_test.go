//go:build !windows

package windows

import (
	"errors"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// TestOpenNeedsWindows: elsewhere than on Windows the kind parses its specs
// and Open says that the stores exist only on Windows.
func TestOpenNeedsWindows(t *testing.T) {
	spec, err := Kind().ParseSpec("windows:CurrentUser/Root")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(spec, stores.OpenOptions{})
	if !errors.Is(err, stores.ErrPlatform) || !strings.Contains(err.Error(), "only on Windows") || stores.HintOf(err) == "" {
		t.Fatalf("Open on %s: %v (hint %q), want ErrPlatform with a hint", "this system", err, stores.HintOf(err))
	}
}
