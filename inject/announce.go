package inject

import (
	"bytes"
	"net"
)

// Metadata is what an announced session says about itself beside its name, as Live555's
// DarwinInjector announced it: the SDP's session information (i=) and QuickTime's text
// attributes, which Darwin Streaming Server hands to its players. Empty fields are left out.
type Metadata struct {
	// Info is the session information (i=, and a=x-qt-text-inf).
	Info string
	// Author, Copyright and Comment go into a=x-qt-text-aut, -cpy and -cmt.
	Author, Copyright, Comment string
}

// announceBody returns an ANNOUNCE body as gortsplib marshalled it, with the session-level lines
// that its description cannot carry: c= with the server's address, i=, and QuickTime's
// a=x-qt-text-* with the title (the s= line) and the metadata.
//
// Darwin Streaming Server reflects an announced session only when c= is one of its own addresses
// (or multicast); gortsplib writes 0.0.0.0, and SETUP then answers 404. server is the address
// the RTSP connection was made to, which is the server's own unless a NAT is on the way.
//
// The result depends on body's media and s= lines only: editing it again changes nothing (the
// client repeats a request, OnRequest included, after a 401).
func announceBody(body []byte, server net.IP, title string, m Metadata) []byte {
	session, media := body, []byte(nil)
	if i := bytes.Index(body, []byte("\r\nm=")); i >= 0 {
		session, media = body[:i+2], body[i+2:]
	}
	addr := "IN IP4 " + server.String()
	if server.To4() == nil {
		addr = "IN IP6 " + server.String()
	}
	out := make([]byte, 0, len(body)+256)
	line := func(parts ...string) {
		for _, p := range parts {
			out = append(out, p...)
		}
		out = append(out, "\r\n"...)
	}
	for _, l := range bytes.Split(bytes.TrimSuffix(session, []byte("\r\n")), []byte("\r\n")) {
		switch {
		case bytes.HasPrefix(l, []byte("i=")), bytes.HasPrefix(l, []byte("a=x-qt-text-")):
			// ours, from an earlier edit
		case bytes.HasPrefix(l, []byte("c=")):
			line("c=", addr)
		case bytes.HasPrefix(l, []byte("s=")):
			line(string(l))
			if m.Info != "" {
				line("i=", m.Info)
			}
		default:
			line(string(l))
		}
	}
	// Session attributes come last, after t=.
	if title != "" {
		line("a=x-qt-text-nam:", title)
	}
	for _, a := range []struct{ key, value string }{
		{"inf", m.Info}, {"aut", m.Author}, {"cpy", m.Copyright}, {"cmt", m.Comment},
	} {
		if a.value != "" {
			line("a=x-qt-text-", a.key, ":", a.value)
		}
	}
	return append(out, media...)
}
