package check

import (
	"fmt"
	"time"
)

// VerifyError is an OpenSSL certificate verification error: the number and
// the words nginx and Apache write in their error logs ("client SSL
// certificate verify error: (10:certificate has expired)").
type VerifyError struct {
	Code int
	Name string
}

func (v VerifyError) String() string { return fmt.Sprintf("%s (%d)", v.Name, v.Code) }

// verifyErrorNames are OpenSSL 3's X509_verify_cert_error_string texts for
// the errors a reason maps to.
var verifyErrorNames = map[int]string{
	2:  "unable to get issuer certificate",
	3:  "unable to get certificate CRL",
	7:  "certificate signature failure",
	8:  "CRL signature failure",
	9:  "certificate is not yet valid",
	10: "certificate has expired",
	11: "CRL is not yet valid",
	12: "CRL has expired",
	18: "self-signed certificate",
	19: "self-signed certificate in certificate chain",
	20: "unable to get local issuer certificate",
	21: "unable to verify the first certificate",
	22: "certificate chain too long",
	23: "certificate revoked",
	26: "unsuitable certificate purpose",
	28: "certificate rejected",
	32: "key usage does not include certificate signing",
	79: "invalid CA certificate",
}

// reasonErrors maps a reason code to the OpenSSL error it causes where that
// does not depend on the chain (see verifyError).
var reasonErrors = map[string]int{
	CodeAnchorNotSelfSign: 2,
	CodeCRLMissing:        3,
	CodeBadSignature:      7,
	CodeCRLBadSignature:   8,
	CodeNotYetValid:       9,
	CodeExpired:           10,
	CodeCRLNotYetValid:    11,
	CodeCRLExpired:        12,
	CodeRevoked:           23,
	CodeEKU:               26,
	CodeKeyUsage:          26,
	CodeRootNotTrusted:    28, // OpenSSL rejects a root whose trust settings leave clientAuth out
	CodeRootDistrusted:    28,
}

// verifyError is the OpenSSL error r stands for on this chain, or nil for a
// reason OpenSSL has no error for (a warning, a loop, a certificate it
// cannot parse).
func (c *checker) verifyError(r Reason) *VerifyError {
	code, ok := reasonErrors[r.Code]
	switch r.Code {
	case CodeMissingIssuer, CodeMissingInter:
		// OpenSSL names the leaf's own missing issuer "unable to verify
		// the first certificate" only when it has no trust store at all;
		// a server always has one.
		code, ok = 20, true
	case CodeRootNotInStore:
		// A self-signed certificate at the top of what the client sent, or
		// a root only another store has (then the chain stops below it).
		code, ok = 20, true
		if r.Missing == nil {
			code = 19
			if len(c.out.Chain) == 1 {
				code = 18
			}
		}
	case CodeNotCA:
		// OpenSSL 3 checks basic constraints and keyCertSign together
		// (X509_V_ERR_INVALID_CA).
		code, ok = 79, true
	}
	if !ok || r.Severity != Reject {
		return nil
	}
	return &VerifyError{Code: code, Name: verifyErrorNames[code]}
}

// validityFix says what to do about a certificate outside its validity.
func (c *checker) validityFix(code string, role string, off time.Duration) *Fix {
	if code == CodeExpired {
		return &Fix{Why: "reissue " + role + " (for a CA: install its renewed certificate in the stores, and have clients send the new intermediate)"}
	}
	if off <= 2*time.Hour {
		return &Fix{Why: fmt.Sprintf("it becomes valid in %s: a clock is probably wrong, this machine's or the issuing CA's (check both: timedatectl, chronyc tracking); otherwise wait or reissue it", ago(off))}
	}
	return &Fix{Why: "reissue " + role + " with a validity that has begun, or wait until it is valid"}
}
