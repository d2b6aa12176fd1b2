package windows

import (
	"runtime"

	"github.com/rootsync/rootsync/stores"
)

// discover lists the system stores every Windows machine has: the Root, CA
// and Disallowed stores of the user and of the machine. Elsewhere it finds
// nothing.
func discover(string) []stores.Found {
	if runtime.GOOS != "windows" {
		return nil
	}
	var out []stores.Found
	for _, s := range []struct{ place, name, usedBy string }{
		{CurrentUser, "Root", "Edge, Chrome and other programs of the signed-in user"},
		{LocalMachine, "Root", "services, IIS (client certificates) and every user"},
		{CurrentUser, "CA", "intermediates of the signed-in user"},
		{LocalMachine, "CA", "intermediates of the machine"},
		{CurrentUser, "Disallowed", "distrust of the signed-in user"},
		{LocalMachine, "Disallowed", "distrust of the machine"},
	} {
		out = append(out, stores.Found{
			Spec:   "windows:" + s.place + "/" + s.name,
			UsedBy: s.usedBy,
			Path:   s.place + `\` + s.name,
			Exists: true,
		})
	}
	return out
}
