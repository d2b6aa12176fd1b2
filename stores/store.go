package stores

import (
	"context"
	"errors"
	"fmt"
)

// Capabilities says which distinctions a store can express. Writing a
// distinction into a store that cannot hold it is a lossy conversion, and the
// plan says so.
type Capabilities struct {
	// PerPurpose: the store can trust a root for some purposes and not others.
	PerPurpose bool
	// Distrust: the store can record that a certificate is explicitly distrusted.
	Distrust bool
	// Ownership: the store can mark entries as added by rootsync, so prune
	// mode can remove them later.
	Ownership bool
	// ReadByOpenSSL: the programs that read the store load it with OpenSSL
	// (openssl verify -CAfile and -CApath, nginx, curl, Apache), which
	// refuses a certificate it cannot decode (a subject or issuer name with
	// a string type it does not know, such as a VisibleString) and with it
	// the whole file. The plan leaves such a certificate out of the store,
	// with a warning, instead of adding it.
	ReadByOpenSSL bool
}

// Action is what a Change does.
type Action int

const (
	// Add puts a certificate that is not in the store into it, with Entry.Trust.
	Add Action = iota + 1
	// Remove takes Entry (as the store's Load returned it) out of the store.
	Remove
	// SetTrust changes the trust of an entry already in the store from From to
	// Entry.Trust.
	SetTrust
)

func (a Action) String() string {
	switch a {
	case Add:
		return "add"
	case Remove:
		return "remove"
	case SetTrust:
		return "trust"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Change is one step of a plan for one store.
type Change struct {
	Action Action
	// Entry is the desired entry for Add and SetTrust, and the entry as loaded
	// from the store for Remove (its Label tells the adapter where it is).
	Entry *Entry
	// From is the trust before a SetTrust.
	From Trust
	// Reason says why, in words for the report.
	Reason string
	// ReasonCode names the kind of Reason for scripts (the planner's stable
	// codes, listed in docs/json.md); empty when the planner gives none.
	ReasonCode string
}

// Store is one place trust lives.
//
// Load reads the whole store. A store whose file or folder does not exist is
// an error wrapping ErrNotExist (an *Error naming what is missing), so that a
// typo in a source never reads as an empty store; LoadTarget turns it into an
// empty set for a store about to be written, which its first Apply creates.
// An existing store that is empty (an empty bundle, an empty folder) is an
// empty set. A path that is not a store of the kind (a folder where a file
// belongs, a keystore named as a PEM bundle, a pipe or a device) is an error
// wrapping ErrWrongKind or ErrNotRegular, so that Apply never writes into
// something that is not what the spec says.
//
// Apply makes the changes all-or-nothing: on any error the store is left
// exactly as it was. Changes come from a plan computed against what Load
// returned. Apply with no changes leaves the store byte-for-byte unchanged (it
// does not open anything for writing). Entries that Apply adds carry rootsync's
// ownership mark where Capabilities().Ownership allows. Entries that no change
// names are kept exactly as they are.
//
// Paths lists the files and folders Apply may write, so that a caller can back
// them up before applying; a folder stands for its direct contents.
type Store interface {
	Spec() Spec
	Capabilities() Capabilities
	Load(ctx context.Context) (*Set, error)
	Apply(ctx context.Context, changes []Change) error
	Paths() []string
}

// Errors that callers branch on. Adapters wrap them in an *Error that names
// the file and entry.
var (
	// ErrCorrupt: the store's content cannot be read as its format.
	ErrCorrupt = errors.New("corrupt store")
	// ErrBadPassword: the password does not open the store.
	ErrBadPassword = errors.New("wrong password")
	// ErrLocked: another program holds the store.
	ErrLocked = errors.New("store is locked by another program")
	// ErrUnsupported: the store holds something rootsync cannot safely rewrite.
	ErrUnsupported = errors.New("unsupported store content")
)

// Error is an error about a file of a store and, where known, one entry in it.
// Its text reads "FILE: ENTRY: cause"; Hint says what the user can do.
type Error struct {
	Path  string
	Entry string
	Err   error
	Hint  string
}

func (e *Error) Error() string {
	s := e.Path
	if e.Entry != "" {
		if s != "" {
			s += ": "
		}
		s += e.Entry
	}
	if s == "" {
		return e.Err.Error()
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// HintOf returns the first hint found in err's tree (errors joined or
// wrapped with several %w included), or "".
func HintOf(err error) string {
	if err == nil {
		return ""
	}
	if h, ok := err.(interface{ HintText() string }); ok && h.HintText() != "" {
		return h.HintText()
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return HintOf(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if h := HintOf(e); h != "" {
				return h
			}
		}
	}
	return ""
}

// HintText implements the hint lookup for HintOf.
func (e *Error) HintText() string { return e.Hint }

// OpenOptions carry what the caller knows beyond the spec. Every adapter
// exports Open(spec Spec, opts OpenOptions) (Store, error); Open does no I/O
// beyond what is needed to check the spec, and never creates anything.
type OpenOptions struct {
	// Password is the password source used when the spec's own options
	// (password-env, password-file) name none.
	Password Secret
}
