package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestRunRecords runs the binary's run path with real ffmpeg and a [record] of 2 s segments whose
// only destination has no server: the channel records all the same, /status says where and how
// much, GET /channels/test/recordings lists the closed segments, and the one it serves is read by
// ffprobe as H.264 and AAC.
func TestRunRecords(t *testing.T) {
	fftest.Require(t)
	profile := `[source]
kind = "testsrc"
[video]
size = "640x360"
fps = 25
gop = "1s"
[record]
dir = "rec"
segment = "2s"
[[destination]]
url = "rtsp://127.0.0.1:1/nobody.sdp"
`
	config := writeProfileConfig(t, httpAnyPort, profile)
	r := startRun(t, config)
	var st statusReport
	fftest.WaitFor(t, 30*time.Second, "two closed segments", func() bool {
		st = getStatusReport(t, r)
		return len(st.Channels) == 1 && st.Channels[0].Record != nil && st.Channels[0].Record.Segments >= 2
	})
	rec := st.Channels[0].Record
	want := filepath.Join(filepath.Dir(config), "profiles", "rec", "test")
	if rec.Dir != want || rec.State != "recording" || rec.BytesOnDisk <= 0 || rec.Newest == nil || rec.Errors != 0 {
		t.Errorf("record %+v, want recording into %s", rec, want)
	}
	if d := st.Channels[0].Destinations[0]; d.State == "recording" {
		t.Errorf("destination %+v, want it failing: there is no server", d)
	}

	code, body := get(t, "http://"+r.inst.httpAddr+"/channels/test/recordings")
	var list recordingsReport
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("GET recordings: %d %v\n%s", code, err, body)
	}
	var url string
	for _, s := range list.Segments {
		if !s.Open && s.URL != nil {
			url = *s.URL
			break
		}
	}
	if url == "" {
		t.Fatalf("no closed segment in %+v", list)
	}
	resp, err := http.Get("http://" + r.inst.httpAddr + url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	seg := filepath.Join(t.TempDir(), "segment.ts")
	f, err := os.Create(seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Type") != "video/mp2t" {
		t.Fatalf("GET %s: %v %s %v", url, resp.Status, resp.Header.Get("Content-Type"), err)
	}
	f.Close()
	streams, err := fftest.Probe(seg, "-count_packets")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range streams {
		kinds = append(kinds, s.CodecName)
	}
	if got := strings.Join(kinds, ","); got != "h264,aac" {
		t.Errorf("the served segment holds %s, want h264,aac: %+v", got, streams)
	}
}
