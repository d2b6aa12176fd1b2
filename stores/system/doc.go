// Package system is the distribution's trust store, written through the
// distribution's own tool: spec `system` (the running system) or
// `system:/ROOT` (a tree such as a container image or chroot; every path is
// taken under ROOT), with the option ?family=debian|fedora|arch|suse|alpine
// to force a layout instead of detecting it from ROOT/etc/os-release and
// marker files. The layouts are a table (Layouts) that tests can replace.
//
// Load reads what the system actually trusts: the files the regeneration
// tool generated (for the p11-kit families the openssl-bundle with
// per-purpose trust and distrust when it exists, else the PEM bundles), plus
// the blocklist folder's certificates as distrusted, plus (Debian, Alpine)
// certificates put by hand into /etc/ssl/certs that no bundle holds, which Go
// and OpenSSL's default paths trust too (they carry a note). An entry whose
// certificate is in a file of an input folder is labelled with that file, and
// is owned by rootsync when the file name starts with "rootsync-"; any other
// entry is labelled with the bundle it was read from.
//
// Apply writes only into the administrator's input folders (anchors and
// blocklist), one PEM file per certificate named rootsync-SLUG-FP.EXT in the
// form the tool reads, then runs the regeneration command (argv, never a
// shell) and reads the PEM outputs back to confirm every change. If the
// command fails or a change did not take effect, the input folders are
// restored exactly, the command is run again, and the error carries the tool's
// output. It never edits a generated file, never calls sudo, and removes whole
// files only: a certificate that shares an input file with others, or that
// comes from the distribution's package, is refused with a hint.
//
// With a root prefix the regeneration runs the host's tools pointed at the
// tree: Debian's update-ca-certificates with --certsconf, --certsdir,
// --localcertsdir and --etccertsdir under ROOT and an empty --hooksdir (so no
// hook runs); for the p11-kit families, trust extract with a temporary
// per-user p11-kit module file whose paths are under ROOT (p11-kit ignores
// per-user files when the real user id is 0, so as root the command runs in a
// new user namespace where it is not); for Alpine, chroot ROOT
// update-ca-certificates.
//
// Paths lists the input folders only: they are everything Apply writes. The
// generated files (Outputs) are rebuilt by the tool from them; restore the
// input folders and run the regeneration command to go back.
package system
