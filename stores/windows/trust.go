package windows

import (
	"encoding/asn1"
	"fmt"

	"github.com/rootsync/rootsync/stores"
)

// ekuOfTrust is the enhanced-key-usage property that records t on an entry
// of a Root store: nil (no property) for every purpose, else the DER
// SEQUENCE OF the trusted purposes' OIDs.
func ekuOfTrust(t stores.Trust) ([]byte, error) {
	if t.All(stores.Trusted) {
		return nil, nil
	}
	var oids []asn1.ObjectIdentifier
	for _, p := range stores.Purposes {
		if t.Get(p) == stores.Trusted {
			oids = append(oids, p.EKU())
		}
	}
	if len(oids) == 0 {
		return nil, fmt.Errorf("trust %v names no trusted purpose", t)
	}
	return asn1.Marshal(oids)
}

// trustOfEKU reads an entry's enhanced-key-usage property (has: it is set):
// no property trusts every purpose, anyExtendedKeyUsage too, and a list
// trusts the purposes it names. It also returns the OIDs it does not know.
func trustOfEKU(prop []byte, has bool) (stores.Trust, []string, error) {
	if !has {
		return stores.TrustAll(), nil, nil
	}
	var oids []asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(prop, &oids)
	if err != nil || len(rest) != 0 {
		return stores.Trust{}, nil, fmt.Errorf("enhanced-key-usage property is not a SEQUENCE OF OBJECT IDENTIFIER")
	}
	var t stores.Trust
	var unknown []string
	for _, o := range oids {
		if o.Equal(stores.OIDAnyExtendedKeyUsage) {
			return stores.TrustAll(), nil, nil
		}
		if p, ok := stores.PurposeOfEKU(o); ok {
			t = t.With(p, stores.Trusted)
		} else {
			unknown = append(unknown, o.String())
		}
	}
	return t, unknown, nil
}
