//go:build windows

package windows

import (
	"errors"
	"fmt"
	"syscall"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// crypt32 procedures golang.org/x/sys/windows does not wrap.
var (
	crypt32                                  = windows.NewLazySystemDLL("crypt32.dll")
	procCertAddEncodedCertificateToStore     = crypt32.NewProc("CertAddEncodedCertificateToStore")
	procCertGetCertificateContextProperty    = crypt32.NewProc("CertGetCertificateContextProperty")
	procCertSetCertificateContextProperty    = crypt32.NewProc("CertSetCertificateContextProperty")
	procCertControlStore                     = crypt32.NewProc("CertControlStore")
	procCertSerializeCertificateStoreElement = crypt32.NewProc("CertSerializeCertificateStoreElement")
	procCertAddSerializedElementToStore      = crypt32.NewProc("CertAddSerializedElementToStore")
)

const (
	encoding = windows.X509_ASN_ENCODING | windows.PKCS_7_ASN_ENCODING

	propEnhKeyUsage  = 9  // CERT_ENHKEY_USAGE_PROP_ID
	propFriendlyName = 11 // CERT_FRIENDLY_NAME_PROP_ID

	ctrlCommit    = 3 // CERT_STORE_CTRL_COMMIT
	ctrlForceFlag = 1 // CERT_STORE_CTRL_COMMIT_FORCE_FLAG

	addNew             = 1 // CERT_STORE_ADD_NEW
	addReplaceExisting = 3 // CERT_STORE_ADD_REPLACE_EXISTING

	certificateContextFlag = 1 << 1 // CERT_STORE_CERTIFICATE_CONTEXT_FLAG

	errNotFound = syscall.Errno(windows.CRYPT_E_NOT_FOUND)
)

// placeFlag is the CERT_SYSTEM_STORE_* flag of a place.
func placeFlag(place string) uint32 {
	if place == LocalMachine {
		return windows.CERT_SYSTEM_STORE_LOCAL_MACHINE
	}
	return windows.CERT_SYSTEM_STORE_CURRENT_USER
}

// certStore is an open crypt32 store.
type certStore struct {
	h    windows.Handle
	name string // PLACE\NAME, for messages
}

// errMissing: the store does not exist (opened with OPEN_EXISTING).
var errMissing = errors.New("store does not exist")

// openStore opens PLACE\NAME. view: the system store (CurrentUser's shows
// LocalMachine's entries too), else the registry store where the place's own
// entries live. write: open for writing (creating the store), else read-only
// and only when it exists (errMissing otherwise).
func openStore(place, name string, view, write bool) (*certStore, error) {
	prov := uintptr(windows.CERT_STORE_PROV_SYSTEM_REGISTRY_W)
	if view {
		prov = windows.CERT_STORE_PROV_SYSTEM_W
	}
	flags := placeFlag(place)
	if !write {
		flags |= windows.CERT_STORE_OPEN_EXISTING_FLAG | windows.CERT_STORE_READONLY_FLAG
	}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	if !write && !registered(place, name, view) {
		return nil, errMissing
	}
	h, err := windows.CertOpenStore(prov, 0, 0, flags, uintptr(unsafe.Pointer(p)))
	if err != nil {
		if !write && (errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND)) {
			return nil, errMissing
		}
		return nil, fmt.Errorf("open %s\\%s: %w", place, name, err)
	}
	return &certStore{h: h, name: place + `\` + name}, nil
}

// registered reports whether PLACE\NAME has a key under SystemCertificates
// in the registry (for CurrentUser's view, LocalMachine's key counts too).
// CertOpenStore's CERT_STORE_OPEN_EXISTING_FLAG is not enough: Wine opens
// a system store of any name.
func registered(place, name string, view bool) bool {
	has := func(root registry.Key, path string) bool {
		k, err := registry.OpenKey(root, path+`\`+name, registry.QUERY_VALUE)
		if err != nil {
			return false
		}
		k.Close()
		return true
	}
	lm := has(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\SystemCertificates`)
	if place == LocalMachine {
		return lm
	}
	return has(registry.CURRENT_USER, `Software\Microsoft\SystemCertificates`) || (view && lm)
}

// commit makes the changes made through s persist (deletions and property
// changes are otherwise lost on close).
func (s *certStore) commit() error {
	r, _, err := procCertControlStore.Call(uintptr(s.h), ctrlForceFlag, ctrlCommit, 0)
	if r == 0 {
		return fmt.Errorf("commit %s: %w", s.name, err)
	}
	return nil
}

func (s *certStore) close() { _ = windows.CertCloseStore(s.h, 0) }

// each calls f for every certificate in s. The context passed to f is
// valid until f returns unless f duplicates it.
func (s *certStore) each(f func(c *windows.CertContext) error) error {
	var prev *windows.CertContext
	for {
		c, err := windows.CertEnumCertificatesInStore(s.h, prev)
		if c == nil {
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("read %s: %w", s.name, err)
			}
			return nil
		}
		prev = c
		if err := f(c); err != nil {
			windows.CertFreeCertificateContext(c)
			return err
		}
	}
}

// certDER copies a context's certificate encoding.
func certDER(c *windows.CertContext) []byte {
	return append([]byte(nil), unsafe.Slice(c.EncodedCert, c.Length)...)
}

// property reads a context property; ok is false when it is not set.
func property(c *windows.CertContext, id uint32) ([]byte, bool, error) {
	var n uint32
	r, _, err := procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(c)), uintptr(id), 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if n == 0 {
		return nil, true, nil
	}
	buf := make([]byte, n)
	r, _, err = procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(c)), uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, false, err
	}
	return buf[:n], true, nil
}

func isNotFound(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e) && e == errNotFound
}

// setProperty sets a context property to data, or removes it when data is
// nil.
func setProperty(c *windows.CertContext, id uint32, data []byte) error {
	var arg uintptr
	var blob windows.CryptDataBlob
	if data != nil {
		blob.Size = uint32(len(data))
		if len(data) > 0 {
			blob.Data = &data[0]
		}
		arg = uintptr(unsafe.Pointer(&blob))
	}
	r, _, err := procCertSetCertificateContextProperty.Call(uintptr(unsafe.Pointer(c)), uintptr(id), 0, arg)
	if r == 0 {
		return err
	}
	return nil
}

// friendlyName reads the friendly name property.
func friendlyName(c *windows.CertContext) (string, error) {
	b, ok, err := property(c, propFriendlyName)
	if err != nil || !ok {
		return "", err
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u)), nil
}

// setFriendlyName sets the friendly name property.
func setFriendlyName(c *windows.CertContext, name string) error {
	u := utf16.Encode([]rune(name + "\x00"))
	b := make([]byte, 2*len(u))
	for i, v := range u {
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	return setProperty(c, propFriendlyName, b)
}

// addEncoded adds a certificate to s and returns its new context (to be
// freed by the caller).
func (s *certStore) addEncoded(der []byte, disposition uint32) (*windows.CertContext, error) {
	var out *windows.CertContext
	r, _, err := procCertAddEncodedCertificateToStore.Call(uintptr(s.h), encoding,
		uintptr(unsafe.Pointer(&der[0])), uintptr(len(der)), uintptr(disposition), uintptr(unsafe.Pointer(&out)))
	if r == 0 {
		return nil, fmt.Errorf("add to %s: %w", s.name, err)
	}
	return out, nil
}

// serialize returns a context's certificate with all its properties, in
// the form the registry stores keep.
func serialize(c *windows.CertContext) ([]byte, error) {
	var n uint32
	r, _, err := procCertSerializeCertificateStoreElement.Call(uintptr(unsafe.Pointer(c)), 0, 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, err
	}
	buf := make([]byte, n)
	r, _, err = procCertSerializeCertificateStoreElement.Call(uintptr(unsafe.Pointer(c)), 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return nil, err
	}
	return buf[:n], nil
}

// addSerialized adds a serialized element (a certificate with its
// properties) to s, replacing the certificate when it is there.
func (s *certStore) addSerialized(elem []byte) error {
	var typ uint32
	var ctx *windows.CertContext
	r, _, err := procCertAddSerializedElementToStore.Call(uintptr(s.h), uintptr(unsafe.Pointer(&elem[0])), uintptr(len(elem)),
		addReplaceExisting, 0, certificateContextFlag, uintptr(unsafe.Pointer(&typ)), uintptr(unsafe.Pointer(&ctx)))
	if r == 0 {
		return fmt.Errorf("restore an entry of %s: %w", s.name, err)
	}
	windows.CertFreeCertificateContext(ctx)
	return nil
}
