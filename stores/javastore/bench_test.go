package javastore_test

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore/javatest"
)

const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// keytoolImportLimit is how many certificates the keytool -importcert loop
// imports: one JVM per certificate costs about 0.65 s, so the full bundle
// would take over 90 s; the per-certificate figure is extrapolated.
const keytoolImportLimit = 20

// BenchmarkWriteSystemRoots writes the system's roots into a new truststore:
// natively (PKCS#12 and JKS), with keytool -importcert once per certificate
// (what most tools do; only the first keytoolImportLimit certificates, with
// the time per certificate and the extrapolation to the whole bundle
// reported), and with one keytool -importkeystore from a PKCS#12 file made
// beforehand.
//
//	go test -run '^$' -bench WriteSystemRoots ./stores/javastore/
func BenchmarkWriteSystemRoots(b *testing.B) {
	javatest.Require(b, "keytool")
	data, err := os.ReadFile(systemBundle)
	if err != nil {
		b.Skip(err)
	}
	var changes []stores.Change
	var pemFiles []string
	dir := b.TempDir()
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := stores.ParseCertificate(blk.Bytes)
		if err != nil {
			b.Fatal(err)
		}
		changes = append(changes, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}})
		f := filepath.Join(dir, fmt.Sprintf("%03d.pem", len(pemFiles)))
		if err := os.WriteFile(f, pem.EncodeToMemory(blk), 0o644); err != nil {
			b.Fatal(err)
		}
		pemFiles = append(pemFiles, f)
	}
	n := len(changes)
	b.Logf("%d certificates from %s", n, systemBundle)

	for _, kind := range []string{"p12", "jks"} {
		b.Run("native-"+kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				file := filepath.Join(b.TempDir(), "trust."+kind)
				mustApply(b, open(b, kind, file, ptr("bench-pw")), changes)
			}
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/store")
		})
	}

	b.Run(fmt.Sprintf("keytool-importcert-first%d", keytoolImportLimit), func(b *testing.B) {
		limit := min(keytoolImportLimit, n)
		for i := 0; i < b.N; i++ {
			file := filepath.Join(b.TempDir(), "trust.p12")
			for j, f := range pemFiles[:limit] {
				if _, err := javatest.Keytool("bench-pw", "-importcert", "-noprompt", "-alias", fmt.Sprintf("cert%03d", j), "-file", f,
					"-keystore", file, "-storetype", "PKCS12", "-storepass:env", javatest.PasswordEnv); err != nil {
					b.Fatal(err)
				}
			}
		}
		perCert := b.Elapsed().Seconds() / float64(b.N) / float64(limit)
		b.ReportMetric(perCert, "s/cert")
		b.ReportMetric(perCert*float64(n), "s/store-extrapolated")
	})

	b.Run("keytool-importkeystore", func(b *testing.B) {
		b.StopTimer()
		src := filepath.Join(b.TempDir(), "source.p12")
		mustApply(b, open(b, "p12", src, ptr("bench-pw")), changes)
		b.StartTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			dst := filepath.Join(b.TempDir(), "trust.p12")
			if _, err := javatest.Keytool("bench-pw", "-importkeystore", "-noprompt", "-srckeystore", src, "-srcstoretype", "PKCS12",
				"-srcstorepass:env", javatest.PasswordEnv, "-destkeystore", dst, "-deststoretype", "PKCS12", "-deststorepass:env", javatest.PasswordEnv); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/store")
	})
}
