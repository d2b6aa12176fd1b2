package windows

import (
	"encoding/asn1"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

func TestEKURoundTrip(t *testing.T) {
	for _, tr := range []stores.Trust{
		stores.TrustAll(),
		stores.Trust{}.With(stores.ClientAuth, stores.Trusted),
		stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Trusted),
	} {
		b, err := ekuOfTrust(tr)
		if err != nil {
			t.Fatal(err)
		}
		got, unknown, err := trustOfEKU(b, b != nil)
		if err != nil || len(unknown) != 0 || got != tr {
			t.Errorf("%v: property %x reads as %v (unknown %v, %v)", tr, b, got, unknown, err)
		}
	}
	if _, err := ekuOfTrust(stores.DistrustAll()); err == nil {
		t.Error("distrust encoded as an enhanced-key-usage property")
	}
}

// TestEKUEncoding: the property is the DER that Windows' certmgr writes for
// "server authentication, client authentication" (X509_ENHANCED_KEY_USAGE).
func TestEKUEncoding(t *testing.T) {
	b, err := ekuOfTrust(stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.ClientAuth, stores.Trusted))
	if err != nil {
		t.Fatal(err)
	}
	if want := "301406082b0601050507030106082b06010505070302"; hex.EncodeToString(b) != want {
		t.Errorf("property %x, want %s", b, want)
	}
}

func TestEKUUnknownAndAny(t *testing.T) {
	b, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}, {1, 3, 6, 1, 5, 5, 7, 3, 4}})
	got, unknown, err := trustOfEKU(b, true)
	if err != nil || got != (stores.Trust{}).With(stores.Email, stores.Trusted) || !reflect.DeepEqual(unknown, []string{"1.3.6.1.5.5.7.3.8"}) {
		t.Errorf("got %v %v %v", got, unknown, err)
	}
	b, _ = asn1.Marshal([]asn1.ObjectIdentifier{stores.OIDAnyExtendedKeyUsage})
	if got, _, _ := trustOfEKU(b, true); got != stores.TrustAll() {
		t.Errorf("anyExtendedKeyUsage reads as %v", got)
	}
	if got, _, _ := trustOfEKU([]byte{0x30, 0x00}, true); !got.IsZero() {
		t.Errorf("an empty list reads as %v, want no purpose", got)
	}
	if _, _, err := trustOfEKU([]byte{0x04, 0x00}, true); err == nil {
		t.Error("a property that is no SEQUENCE read without error")
	}
}
