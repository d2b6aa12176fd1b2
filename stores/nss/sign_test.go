package nss

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"testing"
)

// Values copied from databases that certutil (NSS 3.87) made: one with the
// empty password, trust CT,C,C; one with the password "secret123", trust C,,;
// and two first made in the old format (certutil -N -d dbm:DIR) and converted
// by a later certutil -A -d sql:DIR, whose password check is still key3.db's
// pbeWithSHA1AndTripleDES-CBC: one with the empty password, one with
// "pw123", both trust CT,C,C.
var certutilSamples = []struct {
	name       string
	globalSalt string
	password   string
	check      string
	objectID   uint32
	attr       uint32
	value      string
	signature  string
}{
	{
		name:       "empty password",
		globalSalt: "320D439E59312355B54151AD1C247896C0807530",
		check:      "308181306D06092A864886F70D01050D3060304106092A864886F70D01050C303404201C6104C35AFE811B07A81E5138A813304A0DC34D181E1C79FE5EE2691DC6BE61020101020120300A06082A864886F70D0209301B060960864801650304012A040E8434681C9CCA5C68AB9BB7E91D3B0410D01B40D45C3FE3ED7E9B37C1966ACE78",
		objectID:   0x16a4485d,
		attr:       0xce536358,
		value:      "CE534352",
		signature:  "308180305C06092A864886F70D01050E304F304106092A864886F70D01050C30340420215BA0EF680F09E36D1484659F75662D74A81C2ADBD34A27AC320689D34E115D020101020120300A06082A864886F70D0209300A06082A864886F70D02090420D867400ECD4FA5A341EF6806D62870E07A24BE470EEAE38F75FA8E33BFDEFBDA",
	},
	{
		name:       "password",
		globalSalt: "65117F7D58B92B52A2DC8066766EEF4D3EC64523",
		password:   "secret123",
		check:      "308182306E06092A864886F70D01050D3061304206092A864886F70D01050C303504202AD281C6BCDC95A2EDED88439F0B5E084C186F34CF2DD77D1AC9AE1E0B97B4B702022710020120300A06082A864886F70D0209301B060960864801650304012A040E92F1B2EA4855EB0E90D5DD88D7270410522F28F5C767C3A741BCDC463D5F9D72",
		objectID:   0x1cb068ec,
		attr:       0xce536358,
		value:      "CE534352",
		signature:  "308181305D06092A864886F70D01050E3050304206092A864886F70D01050C30350420137AE6813B5DC6FBB5FF486A488C49A5EAB3FD0EC7D3FC105889AA0682DDC6F402022710020120300A06082A864886F70D0209300A06082A864886F70D0209042047FA11F691EF2B40936535BA43C2A1C334C7BB68929675F16FAD16CB153054CE",
	},
	{
		name:       "converted from dbm, empty password",
		globalSalt: "63A5DB46340F95A240B7B37C8C2B10572339D6A1",
		check:      "303C3028060B2A864886F70D010C05010330190414025CD8185E060DFF75AC2E94806E3CC91F35B2910201010410AD819D90ABCBFFAC449957B714EB94C8",
		objectID:   0x10ed6583,
		attr:       0xce536358,
		value:      "CE534352",
		signature:  "308180305C06092A864886F70D01050E304F304106092A864886F70D01050C30340420FB463EB7A651315357D6F1B4F23531AED60931778A23517AFFEACE6AA65BF162020101020120300A06082A864886F70D0209300A06082A864886F70D02090420C29F304D04B6DAD382F62B1D28D27F02CF59D2D8021C2685CBC1D7C427E89C86",
	},
	{
		name:       "converted from dbm, password",
		globalSalt: "C19973702480389A03B4D1CF338BEA84C676ED98",
		password:   "pw123",
		check:      "303C3028060B2A864886F70D010C050103301904142E1488B4615E142586694F2686F38A62319EF80F0201010410F4A7567A6066881FE81D123CFF9073D6",
		objectID:   0x0f8872ad,
		attr:       0xce536358,
		value:      "CE534352",
		signature:  "308181305D06092A864886F70D01050E3050304206092A864886F70D01050C30350420B738E6AA056A194B53C0D7BFD0478741509D1F644C9896638EADD6167937FC9602022710020120300A06082A864886F70D0209300A06082A864886F70D0209042063AFA95164969915A5AE6FC095760F23229F4A7A8D0B0F98014AF4BDEAA78A37",
	},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCertutilSignaturesVerify(t *testing.T) {
	for _, s := range certutilSamples {
		t.Run(s.name, func(t *testing.T) {
			pk := passKey(unhex(t, s.globalSalt), []byte(s.password))
			ok, err := checkPassword(unhex(t, s.check), pk)
			if err != nil || !ok {
				t.Fatalf("checkPassword(right password) = %v, %v; want true", ok, err)
			}
			ok, err = checkPassword(unhex(t, s.check), passKey(unhex(t, s.globalSalt), []byte(s.password+"x")))
			if err != nil || ok {
				t.Fatalf("checkPassword(wrong password) = %v, %v; want false", ok, err)
			}
			v := newVerifier(pk)
			if err := v.verify(unhex(t, s.signature), s.objectID, s.attr, unhex(t, s.value)); err != nil {
				t.Fatalf("certutil's signature: %v", err)
			}
			for _, bad := range []struct {
				id, attr uint32
				value    string
			}{
				{s.objectID + 1, s.attr, s.value},
				{s.objectID, s.attr + 1, s.value},
				{s.objectID, s.attr, "CE53435A"},
			} {
				if err := v.verify(unhex(t, s.signature), bad.id, bad.attr, unhex(t, bad.value)); err == nil {
					t.Errorf("signature verifies for id %08x attr %08x value %s", bad.id, bad.attr, bad.value)
				}
			}
		})
	}
}

func TestSignRoundTripMatchesCertutilShape(t *testing.T) {
	for _, s := range certutilSamples {
		t.Run(s.name, func(t *testing.T) {
			pk := passKey(unhex(t, s.globalSalt), []byte(s.password))
			iter := emptyPasswordIterations
			if s.password != "" {
				iter = passwordIterations
			}
			sg, err := newSigner(pk, iter)
			if err != nil {
				t.Fatal(err)
			}
			der := sg.sign(s.objectID, s.attr, unhex(t, s.value))
			if got, want := len(der), len(unhex(t, s.signature)); got != want {
				t.Errorf("signature is %d bytes, certutil's %d", got, want)
			}
			// Same structure as certutil's: everything but salt and MAC equal.
			ref := unhex(t, s.signature)
			mask := func(b []byte) string {
				var sig signature
				if _, err := asn1.Unmarshal(b, &sig); err != nil {
					t.Fatal(err)
				}
				c := bytes.Replace(b, sig.Alg.Params.KDF.Params.Salt, make([]byte, 32), 1)
				c = bytes.Replace(c, sig.MAC, make([]byte, 32), 1)
				return hex.EncodeToString(c)
			}
			if mask(der) != mask(ref) {
				t.Errorf("signature structure differs:\n got %s\nwant %s", mask(der), mask(ref))
			}
			if err := newVerifier(pk).verify(der, s.objectID, s.attr, unhex(t, s.value)); err != nil {
				t.Errorf("own signature: %v", err)
			}
		})
	}
}

func TestNewPasswordEntry(t *testing.T) {
	for _, pw := range []string{"", "secret123"} {
		salt, enc, err := newPasswordEntry([]byte(pw))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := checkPassword(enc, passKey(salt, []byte(pw))); err != nil || !ok {
			t.Errorf("password %q: check = %v, %v", pw, ok, err)
		}
		if ok, _ := checkPassword(enc, passKey(salt, []byte(pw+"x"))); ok {
			t.Errorf("password %q: a wrong password passes the check", pw)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	pk := passKey(make([]byte, 20), nil)
	b.Run("empty-password", func(b *testing.B) {
		for b.Loop() {
			sg, _ := newSigner(pk, emptyPasswordIterations)
			sg.sign(1, 0xce536358, []byte{0xce, 0x53, 0x43, 0x52})
		}
	})
	b.Run("password-10000-iterations", func(b *testing.B) {
		for b.Loop() {
			sg, _ := newSigner(pk, passwordIterations)
			sg.sign(1, 0xce536358, []byte{0xce, 0x53, 0x43, 0x52})
		}
	})
	b.Run("one-signature-shared-key", func(b *testing.B) {
		sg, _ := newSigner(pk, passwordIterations)
		for b.Loop() {
			sg.sign(1, 0xce536358, []byte{0xce, 0x53, 0x43, 0x52})
		}
	})
}

func BenchmarkCheckPassword(b *testing.B) {
	for _, s := range certutilSamples {
		salt, _ := hex.DecodeString(s.globalSalt)
		check, _ := hex.DecodeString(s.check)
		pk := passKey(salt, []byte(s.password))
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if ok, err := checkPassword(check, pk); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// TestAppendSigIsMarshal: a signature made from the signer's fixed prefix is
// byte for byte what asn1.Marshal makes of the whole structure, for both
// iteration counts.
func TestAppendSigIsMarshal(t *testing.T) {
	for _, iter := range []int{emptyPasswordIterations, passwordIterations} {
		sg, err := newSigner(passKey([]byte("0123456789abcdefghij"), nil), iter)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range [][]byte{ulongBytes(trustTrustedDelegator), {0}, emptyValue, bytes.Repeat([]byte{7}, 300)} {
			got := sg.appendSig([]byte("x"), 0x12345678, attrCertSHA1Hash, v)
			m := hmac.New(sha256.New, sg.key)
			m.Write(macInput(0x12345678, attrCertSHA1Hash, v))
			want, err := asn1.Marshal(sg.signature(m.Sum(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Errorf("%d iterations, value %x:\n got %x\nwant x%x", iter, v, got, want)
			}
			if err := newVerifier(passKey([]byte("0123456789abcdefghij"), nil)).verify(got[1:], 0x12345678, attrCertSHA1Hash, v); err != nil {
				t.Errorf("%d iterations: own signature does not verify: %v", iter, err)
			}
		}
	}
}
