//go:build !windows

package windows

import (
	"fmt"

	"github.com/rootsync/rootsync/stores"
)

// Open refuses: the Windows certificate stores exist only on Windows.
func Open(spec stores.Spec, _ stores.OpenOptions) (stores.Store, error) {
	if _, err := parseLocation(spec); err != nil {
		return nil, err
	}
	return nil, &stores.Error{Path: spec.String(),
		Err:  fmt.Errorf("the Windows certificate stores exist only on Windows: %w", stores.ErrPlatform),
		Hint: "run rootsync on the Windows machine whose stores it should read or write"}
}
