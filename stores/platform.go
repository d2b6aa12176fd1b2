package stores

import "errors"

// ErrPlatform is wrapped by Open when a kind's stores do not exist on the
// running system (the windows kind elsewhere than on Windows, the system
// kind elsewhere than on Linux).
var ErrPlatform = errors.New("not supported on this system")
