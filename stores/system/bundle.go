package system

import (
	"bytes"
	"fmt"

	"github.com/rootsync/rootsync/stores"
)

// readPEM reads every CERTIFICATE and TRUSTED CERTIFICATE block of data with
// stores.DecodePEM. Text between blocks (comments, openssl x509 -text output)
// is allowed; other PEM types (keys, CRLs) are skipped. It fails with
// ErrCorrupt when a certificate block does not hold a certificate or holds
// trust data OpenSSL refuses, when a block is cut off, or when data is not
// empty but holds no PEM block at all.
func readPEM(data []byte) ([]*stores.PEMBlock, error) {
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		return nil, err
	}
	if len(b.Blocks) == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, fmt.Errorf("%w: no PEM block in %d bytes", stores.ErrCorrupt, len(data))
	}
	return b.Certificates(), nil
}
