// Package e2e holds rootsync's end-to-end and fault tests. They build the
// rootsync binary and run it as an administrator or a timer would: against
// real stores, with real hooks (nginx), under kill -9, read-only folders, a
// full disk and a database locked by another program; and they check the
// packaging (systemd units, the ca-certificates hook). The package has no
// code outside its tests.
package e2e
