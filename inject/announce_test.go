package inject

import (
	"net"
	"testing"
)

func TestAnnounceBody(t *testing.T) {
	const sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=lobby\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n"
	for _, tc := range []struct {
		name   string
		server net.IP
		meta   Metadata
		want   string
	}{
		{"IPv4, no metadata", net.IPv4(192, 0, 2, 7), Metadata{},
			"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=lobby\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\na=x-qt-text-nam:lobby\r\n" +
				"m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n"},
		{"IPv6, all metadata", net.ParseIP("2001:db8::7"), Metadata{Info: "i", Author: "a", Copyright: "c", Comment: "m"},
			"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=lobby\r\ni=i\r\nc=IN IP6 2001:db8::7\r\nt=0 0\r\n" +
				"a=x-qt-text-nam:lobby\r\na=x-qt-text-inf:i\r\na=x-qt-text-aut:a\r\na=x-qt-text-cpy:c\r\na=x-qt-text-cmt:m\r\n" +
				"m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n"},
	} {
		got := announceBody([]byte(sdp), tc.server, "lobby", tc.meta)
		if string(got) != tc.want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.name, got, tc.want)
		}
		// gortsplib calls OnRequest again for the same request after a 401
		if again := announceBody(got, tc.server, "lobby", tc.meta); string(again) != tc.want {
			t.Errorf("%s, edited twice:\n%q", tc.name, again)
		}
	}
}
