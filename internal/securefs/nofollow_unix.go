//go:build unix && !linux

package securefs

import "syscall"

const oNoFollow = syscall.O_NOFOLLOW
