package inject

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// selfSigned makes a certificate for 127.0.0.1 that is its own authority, and returns it with
// its PEM.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "liveinject test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestRTSPS pushes to a server with a self-signed certificate: the certificate is checked
// against the system's authorities unless a CA is given, or the check is turned off.
func TestRTSPS(t *testing.T) {
	cert, ca := selfSigned(t)
	srv := startDiscardServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	_, port, _ := net.SplitHostPort(srv.addr)
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		name   string
		target Target
		want   string // what LastError says when the push fails; "" when it records
	}{
		{"system authorities", Target{URL: "rtsps://" + srv.addr + "/system.sdp"}, "not signed by a trusted authority"},
		{"CA", Target{URL: "rtsps://" + srv.addr + "/ca.sdp", TLSCA: ca}, ""},
		{"CA, other host name", Target{URL: "rtsps://localhost:" + port + "/name.sdp", TLSCA: ca}, "not for this host name"},
		{"insecure", Target{URL: "rtsps://" + srv.addr + "/insecure.sdp", TLSInsecure: true, Transport: "auto"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Fanout{Channel: "test", QueueSize: 1024, RetryMin: time.Minute, Targets: []Target{tc.target}}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tc.want != "" {
				if err := f.WriteFrame(fr[0]); err != nil {
					t.Fatal(err)
				}
				waitState(t, f, 0, StateBackoff)
				if st := f.Stats()[0]; !strings.Contains(st.LastError, tc.want) {
					t.Errorf("last error %q lacks %q", st.LastError, tc.want)
				}
				return
			}
			push(t, f, fr)
			waitSettled(t, f, 0)
			st := f.Stats()[0]
			if st.Transport != "tcp" || st.PacketsDropped != 0 {
				t.Errorf("stats %+v, want every packet sent over TCP", st)
			}
			path := strings.TrimPrefix(tc.target.URL[strings.LastIndexByte(tc.target.URL, '/'):], "/")
			fftest.WaitFor(t, 10*time.Second, "every packet at the server", func() bool {
				return srv.received(path) == st.PacketsSent
			})
		})
	}
}

// TestTargetErrors gives targets that cannot work: they are refused at once, with the
// password hidden.
func TestTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		target Target
		want   string
	}{
		{Target{URL: "ftp://u:s3cret@host/x.sdp"}, `scheme "ftp"`},
		{Target{URL: "rtsp://u:s3cret@host/x.sdp", Transport: "sctp"}, `unknown transport "sctp"`},
		{Target{URL: "rtsps://u:s3cret@host/x.sdp", Transport: "udp"}, "transport udp does not work with rtsps"},
		{Target{URL: "rtsp://u:s3cret@host/x.sdp", TLSInsecure: true}, "TLS settings need an rtsps:// URL"},
		{Target{URL: "rtsp://host/x.sdp", User: "u", Password: "s3cret", TLSCA: "x"}, "TLS settings need an rtsps:// URL"},
		{Target{URL: "rtsps://u:s3cret@host/x.sdp", TLSCA: "not a certificate"}, "no PEM certificate"},
	} {
		f := &Fanout{Channel: "test", Targets: []Target{tc.target}}
		err := f.Initialize()
		if err == nil {
			f.Close()
			t.Errorf("%+v: no error", tc.target)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: error %q, want %q and no password", tc.target, err, tc.want)
		}
	}
}
