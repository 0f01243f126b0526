package profiles

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testCA is a self-signed certificate, as a private CA's would be.
const testCA = `-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUEPatcpYZQ6aRPxox+dQDeutze/YwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSbGl2ZWluamVjdCB0ZXN0IENBMCAXDTI2MTEyNTEyMjg0MVoY
DzIxMjYxMTAxMTIyODQxWjAdMRswGQYDVQQDDBJsaXZlaW5qZWN0IHRlc3QgQ0Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARyahzJlA1oabMBKjM/Y3a5AHSWq48U
QzSFrFKnS20jeCmSu1aCdlr9DOFdHmRZHX53/u9kgoKhgc7EG249LHT0o1MwUTAd
BgNVHQ4EFgQUj2+fsaJ7UPJjjoEXmTf5Zo+qOeMwHwYDVR0jBBgwFoAUj2+fsaJ7
UPJjjoEXmTf5Zo+qOeMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiBlMP42tz+Ub37K8DxR8TI6RXT8wnZCW/SATeJwB9y5dQIhANdtCZg6ottCT7kh
4r79Vbs5143Gh5H9QVWDCn3eMM0g
-----END CERTIFICATE-----
`

// TestDestinationTLS checks tls_ca_file and tls_insecure: the CA file is read at load, relative
// to the profile, and every mistake is reported with its file and line.
func TestDestinationTLS(t *testing.T) {
	dir := t.TempDir()
	dest := func(url, keys string) string {
		return "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"" + url + "\"\n" + keys
	}
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":   "",
		"profiles/ca.pem":   testCA,
		"profiles/key.pem":  "not a certificate\n",
		"profiles/ok.toml":  dest("rtsps://dss.example/ok.sdp", "tls_ca_file = \"ca.pem\"\n"),
		"profiles/ins.toml": dest("rtsps://dss.example/ins.sdp", "tls_insecure = true\n"),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := cfg.Channels[0].Destinations[0], cfg.Channels[1].Destinations[0]
	if ok.TLSCA != strings.TrimRight(testCA, "\n") || ok.TLSCAFile != "ca.pem" || ok.TLSInsecure {
		t.Errorf("ok's destination %+v, want the CA read from ca.pem", ok)
	}
	if !ins.TLSInsecure || ins.TLSCA != "" {
		t.Errorf("ins's destination %+v, want insecure", ins)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), "ins.toml:5: destination.tls_insecure: the server's certificate is not checked") {
		t.Errorf("warnings %v, want one for tls_insecure", cfg.Warnings)
	}

	writeFiles(t, dir, map[string]string{
		"profiles/a.toml": dest("rtsps://dss.example/a.sdp", "tls_ca_file = \"missing.pem\"\n"),
		"profiles/b.toml": dest("rtsps://dss.example/b.sdp", "tls_ca_file = \"key.pem\"\n"),
		"profiles/c.toml": dest("rtsp://dss.example/c.sdp", "tls_ca_file = \"ca.pem\"\n"),
		"profiles/d.toml": dest("rtsp://dss.example/d.sdp", "tls_insecure = true\n"),
		"profiles/e.toml": dest("rtsps://dss.example/e.sdp", "tls_ca_file = \"ca.pem\"\ntls_insecure = true\n"),
		"profiles/f.toml": dest("rtsps://dss.example/f.sdp", "transport = \"udp\"\n"),
		"profiles/g.toml": dest("rtsps://dss.example/g.sdp", "tls_insecure = \"yes\"\n"),
	})
	got := loadErrors(t, dir)
	want := []string{
		"profiles/a.toml:5: destination.tls_ca_file: cannot read " + filepath.Join(dir, "profiles", "missing.pem") + ": no such file or directory",
		"profiles/b.toml:5: destination.tls_ca_file: " + filepath.Join(dir, "profiles", "key.pem") + " holds no PEM certificate",
		"profiles/c.toml:5: destination.tls_ca_file: applies to rtsps:// and rtmps:// URLs only",
		"profiles/d.toml:5: destination.tls_insecure: applies to rtsps:// and rtmps:// URLs only",
		"profiles/e.toml:6: destination.tls_insecure: turns off the check tls_ca_file is for: give one of them",
		"profiles/f.toml:5: destination.transport: udp does not work with rtsps: use tcp",
		"profiles/g.toml:5: destination.tls_insecure: want true or false, got string \"yes\"",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
