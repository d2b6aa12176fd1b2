// Package windows reads and writes the Windows certificate stores
// (CurrentUser\Root, LocalMachine\Root, CA, Disallowed and stores of any
// other name) through crypt32, never through certutil.exe or PowerShell.
//
// A spec names a place and a store: windows:CurrentUser/Root. For a store of
// trust anchors (Root, or another name), an entry without an
// enhanced-key-usage property (CERT_ENHKEY_USAGE_PROP_ID) is trusted for
// every purpose and one with the property for the purposes it lists;
// distrust is an entry in the Disallowed store of the same place (or the
// store the disallowed option names). The CA store holds intermediates,
// without trust; the Disallowed store, opened by itself, distrust only. The
// friendly name is the entry's label, and rootsync marks what it adds with a
// "rootsync - " prefix on it.
//
// The system store CurrentUser\Root shows the entries of LocalMachine\Root
// too. Such an inherited entry is listed with a note and never removed or
// changed through CurrentUser: writes go to the registry store of the named
// place only. Every write is committed (CertControlStore) so that it
// persists.
//
// A Windows store is no file: Paths is empty, and the store saves and
// restores its state itself (stores.StateSaver), as serialized entries with
// their properties.
//
// On other systems the kind is known, and Open says that it needs Windows.
package windows
