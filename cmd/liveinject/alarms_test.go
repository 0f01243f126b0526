package main

import (
	"bytes"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/internal/fftest"
)

// blackProfile is a channel whose camera sends black for its first eight seconds, then the test
// pattern, with black_after "1s".
const blackProfile = `[source]
kind = "ffmpeg"
[ffmpeg]
input_args = ["-re", "-f", "lavfi", "-i", "color=c=black:size=320x240:rate=25:duration=8[b];testsrc2=size=320x240:rate=25[p];[b][p]concat=n=2[out0];sine=sample_rate=48000[out1]"]
[video]
size = "320x240"
bitrate = "300k"
[alarms]
black_after = "1s"
[[destination]]
url = "rtsp://{relay}/test.sdp"
`

// TestAlarmsShown runs a channel whose camera sends black for eight seconds, with black_after
// "1s": /status, the metrics, /healthz and the status command say it, and stop saying it once
// the picture comes back.
func TestAlarmsShown(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeProfileConfig(t, relayAny+httpAnyPort, blackProfile))
	health := "http://" + r.inst.httpAddr + "/healthz"
	var s statusReport
	fftest.WaitFor(t, 20*time.Second, "the black alarm in /status", func() bool {
		s = getStatusReport(t, r)
		return len(s.Channels) == 1 && slices.Equal(s.Channels[0].Alarms, []string{"black"})
	})
	if in := s.Channels[0].Inputs; len(in) == 0 || !slices.Equal(in[0].Alarms, []string{"black"}) {
		t.Errorf("inputs %+v, want the source's black alarm", in)
	}
	alarm := func(name string) float64 {
		v, ok := value(scrape(t, r), "liveinject_channel_alarm", dto.MetricType_GAUGE, map[string]string{"channel": "test", "alarm": name})
		if !ok {
			t.Errorf("no liveinject_channel_alarm{alarm=%q}", name)
		}
		return v
	}
	if black, frozen, silent := alarm("black"), alarm("frozen"), alarm("silent"); black != 1 || frozen != 0 || silent != 0 {
		t.Errorf("liveinject_channel_alarm black %v, frozen %v, silent %v; want 1, 0, 0", black, frozen, silent)
	}
	code, body := get(t, health)
	if want := "channel test: alarm black: the picture is black on source\n"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("/healthz %d %q, want 503 with %q", code, body, want)
	}
	var out bytes.Buffer
	printStatus(&out, &s)
	if want := regexp.MustCompile(`(?m)^  alarm +black +source +the picture is black$`); !want.MatchString(out.String()) {
		t.Errorf("status command:\n%s\nwant a line under the channel matching %s", out.String(), want)
	}

	fftest.WaitFor(t, 20*time.Second, "the alarm cleared", func() bool {
		s = getStatusReport(t, r)
		return len(s.Channels) == 1 && s.Channels[0].Alarms != nil && len(s.Channels[0].Alarms) == 0
	})
	if black := alarm("black"); black != 0 {
		t.Errorf("liveinject_channel_alarm black %v after the picture came back", black)
	}
	fftest.WaitFor(t, 10*time.Second, "healthy", func() bool { code, _ := get(t, health); return code == http.StatusOK })
}

// TestDashboardAlarmInBrowser opens the dashboard of the channel of blackProfile in a real
// headless Chromium: its card shows the black alarm in red, with what to check, and its light
// red, until the picture comes back.
func TestDashboardAlarmInBrowser(t *testing.T) {
	fftest.Require(t)
	path := chromium(t)
	r := startRun(t, writeProfileConfig(t, relayAny+httpAnyPort, blackProfile))
	b := openBrowser(t, path)
	const card = `article[data-channel="test"]`
	b.do("open the dashboard", chromedp.Navigate("http://"+r.inst.httpAddr+"/"))
	shown := b.poll("the black alarm on the card", `(() => {
		const c = document.querySelector('`+card+`');
		const a = c && c.querySelector(".alarms .alarm[data-alarm=black]");
		return a && a.textContent === "black picture on source" && getComputedStyle(a).backgroundColor === "rgb(201, 55, 44)" &&
			c.querySelector(".light").dataset.colour === "red" && c.dataset.state === "black" ? a.parentNode.textContent : false;
	})()`)
	t.Logf("the card says: %v", shown)
	b.screenshot("dashboard-alarm.png")
	b.poll("the alarm gone once the picture is back", `(() => {
		const c = document.querySelector('`+card+`');
		return c.querySelector(".alarms").children.length === 0 && getComputedStyle(c.querySelector(".alarms")).display === "none" &&
			c.querySelector(".light").dataset.colour === "green";
	})()`)
}
