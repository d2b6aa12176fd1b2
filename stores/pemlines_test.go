package stores

import (
	"bytes"
	"strings"
	"testing"
)

// TestBeginAndEndLines: beginLabel and isEndLine read every line as the
// string forms they replace do (a label copied out of a trimmed line; an
// END line compared with one made for the label), for lines with spaces,
// tabs, CR and cut-off dashes around every label, one byte of each changed.
func TestBeginAndEndLines(t *testing.T) {
	oldBegin := func(line []byte) (string, bool) {
		if !bytes.HasPrefix(line, []byte("-----BEGIN ")) {
			return "", false
		}
		s := strings.TrimRight(string(line), " \t\r\n")
		if !strings.HasPrefix(s, "-----BEGIN ") || !strings.HasSuffix(s, "-----") || len(s) < len("-----BEGIN -----") {
			return "", false
		}
		return s[len("-----BEGIN ") : len(s)-len("-----")], true
	}
	oldEnd := func(line []byte, label string) bool {
		return string(bytes.TrimRight(line, " \t\r\n")) == "-----END "+label+"-----"
	}
	labels := []string{LabelCertificate, LabelTrustedCertificate, LabelX509Certificate, "PRIVATE KEY", "", "X", "CERTIFICATE-"}
	var lines []string
	for _, l := range labels {
		for _, tail := range []string{"", "\n", "\r\n", " \t\n", "-\n", " x\n"} {
			lines = append(lines, "-----BEGIN "+l+"-----"+tail, "-----END "+l+"-----"+tail, "-----BEGIN "+l+"----"+tail, "-----END "+l+tail)
		}
	}
	lines = append(lines, "-----BEGIN \n", "-----BEGIN", "-----BEGIN -----", "-----BEGIN ----\n", "-----END -----", "----END CERTIFICATE-----\n", "")
	check := func(line []byte) {
		gl, gok := beginLabel(line)
		wl, wok := oldBegin(line)
		if gl != wl || gok != wok {
			t.Fatalf("beginLabel(%q) = %q, %v; want %q, %v", line, gl, gok, wl, wok)
		}
		for _, l := range labels {
			if g, w := isEndLine(line, l), oldEnd(line, l); g != w {
				t.Fatalf("isEndLine(%q, %q) = %v, want %v", line, l, g, w)
			}
		}
	}
	for _, s := range lines {
		check([]byte(s))
		for i := range len(s) {
			for _, c := range []byte{'-', ' ', '\t', '\r', '\n', 'C', 0} {
				m := []byte(s)
				m[i] = c
				check(m)
			}
		}
	}
}
