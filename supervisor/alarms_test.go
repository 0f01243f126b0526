package supervisor

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// TestAlarmFilters checks where the alarms' filters go: at the end of an encoding input's video
// chain (before the upload to the GPU) and in its audio chain; nowhere for alarms "off", for a
// stream that is copied, and for the slate.
func TestAlarmFilters(t *testing.T) {
	filters := func(args []string, opt string) string {
		if i := slices.Index(args, opt); i >= 0 {
			return args[i+1]
		}
		return ""
	}
	ch := testProfile()
	ch.Alarms = profiles.DefaultAlarms()
	args, err := Args(ch)
	if err != nil {
		t.Fatal(err)
	}
	const meta = `:file=pipe\\:2:direct=1`
	wantVF := "format=yuv420p,setsar=1,setparams=range=tv:color_primaries=unknown:color_trc=unknown:colorspace=unknown," +
		"split[main][alarms];[alarms]framestep=5,blackdetect=d=0:pix_th=0.1:pic_th=0.98,freezedetect=n=-60dB:d=10," +
		"metadata=mode=print:key=lavfi.black_start" + meta + ",metadata=mode=print:key=lavfi.black_end" + meta + "," +
		"metadata=mode=print:key=lavfi.freezedetect.freeze_start" + meta + ",metadata=mode=print:key=lavfi.freezedetect.freeze_end" + meta +
		",nullsink;[main]null"
	if vf := filters(args, "-vf"); vf != wantVF {
		t.Errorf("-vf\n%s\nwant\n%s", vf, wantVF)
	}
	wantAF := "silencedetect=n=-60dB:d=10,ametadata=mode=print:key=lavfi.silence_start" + meta +
		",ametadata=mode=print:key=lavfi.silence_end" + meta
	if af := filters(args, "-af"); af != wantAF {
		t.Errorf("-af\n%s\nwant\n%s", af, wantAF)
	}

	vaapi := ch
	vaapi.Video.Encoder, vaapi.Video.VAAPIDevice = profiles.EncoderVAAPI, "/dev/dri/renderD128"
	args, _ = Args(vaapi)
	if vf := filters(args, "-vf"); !strings.HasSuffix(vf, "freeze_end"+meta+",nullsink;[main]hwupload") {
		t.Errorf("vaapi -vf %s: want the alarms split off before hwupload", vf)
	}
	for fps, step := range map[int]string{1: "framestep=1", 10: "framestep=2", 30: "framestep=6", 60: "framestep=12"} {
		p := ch
		p.Video.FPS = fps
		args, _ = Args(p)
		if vf := filters(args, "-vf"); !strings.Contains(vf, "[alarms]"+step+",") {
			t.Errorf("%d fps: -vf %s, want %s: about 5 pictures a second", fps, vf, step)
		}
	}

	off := ch
	off.Alarms = profiles.Alarms{Off: true}
	copied := ch
	copied.Source = profiles.Source{Kind: profiles.SourceRTSP, URL: "rtsp://cam.example/s"}
	copied.Video.Encoder, copied.Audio.Encoder = profiles.EncoderCopy, profiles.EncoderCopy
	for name, p := range map[string]profiles.Channel{"off": off, "copy": copied, "slate": slateProfile(ch), "slate of copy": slateProfile(copied)} {
		args, err := Args(p)
		if err != nil {
			t.Fatal(err)
		}
		if line := strings.Join(args, " "); strings.Contains(line, "detect") || strings.Contains(line, "metadata") {
			t.Errorf("%s: alarm filters in %s", name, line)
		}
	}
}

// TestDetectorLines feeds the detector the lines the filters print, as ffmpeg 5.1 prints them,
// and checks the alarms it says at each time.
func TestDetectorLines(t *testing.T) {
	var d detector
	a := profiles.DefaultAlarms()
	d.reset(a)
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, step := range []struct {
		at    float64
		lines []string
		want  []string
	}{
		{0, nil, []string{}},
		{1, []string{"frame:25   pts:1000000 pts_time:1", "lavfi.black_start=1"}, []string{}},
		// a filter graph made anew (the input's size changed) marks the black again: it goes on
		{5.9, []string{"frame:0    pts:180000  pts_time:2", "lavfi.black_start=2"}, []string{}},
		{6, nil, []string{"black"}},
		// black stands still too: one alarm
		{11, []string{"frame:250  pts:10000000 pts_time:10", "lavfi.freezedetect.freeze_start=1"}, []string{"black"}},
		{12, []string{"frame:275  pts:479520  pts_time:9.99", "lavfi.silence_start=0"}, []string{"black", "silent"}},
		{13, []string{"frame:300  pts:12000000 pts_time:12", "lavfi.black_end=12"}, []string{"frozen", "silent"}},
		{14, []string{"frame:325  pts:13000000 pts_time:13", "lavfi.freezedetect.freeze_end=13", "lavfi.silence_end=13.00002"}, []string{}},
	} {
		for _, l := range step.lines {
			if !d.line(l, at(step.at)) {
				t.Errorf("%q not taken", l)
			}
		}
		if got := d.raised(at(step.at)); !slices.Equal(got, step.want) {
			t.Errorf("at %vs: %q, want %q", step.at, got, step.want)
		}
	}
	for _, l := range []string{"frame=  100 fps= 25", "[h264 @ 0x55] error", "lavfi.other=1", "progress=continue"} {
		if d.line(l, t0) {
			t.Errorf("%q taken", l)
		}
	}
	d.line("lavfi.silence_start=1", t0)
	d.reset(a)
	if got := d.raised(t0); len(got) != 0 {
		t.Errorf("after reset: %q", got)
	}
}

// alarmTest runs a channel whose source is one lavfi graph with its picture on out0 and its
// sound on out1, and records its alarm events.
type alarmTest struct {
	t      *testing.T
	s      *Supervisor
	mu     sync.Mutex
	events []event.Event
}

func newAlarmTest(t *testing.T, graph string, change func(*profiles.Channel)) *alarmTest {
	fftest.Require(t)
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rl.Close)
	ch := testProfile()
	smallVideo(&ch)
	ch.Name = "cam"
	ch.Source = profiles.Source{Kind: profiles.SourceFFmpeg}
	ch.FFmpeg.InputArgs = []string{"-re", "-f", "lavfi", "-i", graph}
	ch.Hold = profiles.Duration(time.Second)
	ch.FailoverAfter, ch.ReturnAfter, ch.SlateAfter = profiles.Duration(time.Second), profiles.Duration(time.Second), profiles.Duration(time.Second)
	ch.Slate.Off = true
	ch.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/cam.sdp"}}
	change(&ch)
	at := &alarmTest{t: t}
	at.s = &Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{ch}, OnEvent: func(e event.Event) {
		if e.Kind == event.AlarmRaised || e.Kind == event.AlarmCleared {
			at.mu.Lock()
			at.events = append(at.events, e)
			at.mu.Unlock()
		}
	}}
	runSupervisor(t, at.s)
	return at
}

func (at *alarmTest) status() Status {
	if st := at.s.Status(); len(st) == 1 {
		return st[0]
	}
	return Status{}
}

// firstFrame waits for the channel's first frame and returns when it was seen.
func (at *alarmTest) firstFrame() time.Time {
	fftest.WaitFor(at.t, 20*time.Second, "first frame", func() bool { return at.status().Frames > 0 })
	return time.Now()
}

// waitAlarms waits until the channel's alarms are want, by deadline, and returns when.
func (at *alarmTest) waitAlarms(want []string, deadline time.Time) time.Time {
	at.t.Helper()
	for {
		st := at.status()
		if slices.Equal(st.Alarms, want) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			at.t.Fatalf("alarms %q (inputs %+v), want %q", st.Alarms, st.Inputs, want)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func (at *alarmTest) eventList() []string {
	at.mu.Lock()
	defer at.mu.Unlock()
	var out []string
	for _, e := range at.events {
		out = append(out, e.Kind+" "+e.Alarm)
	}
	return out
}

// TestAlarmsRaiseAndClear runs a source whose picture is black, still, or whose sound is
// silent, for its first six seconds, and normal after: the alarm comes within its duration
// (2 s here) + 2 s and goes once the content changes, alone; the events say both.
func TestAlarmsRaiseAndClear(t *testing.T) {
	const (
		bad     = 6 * time.Second
		after   = 2 * time.Second
		picture = "testsrc2=size=320x240:rate=25"
		sound   = "sine=frequency=1000:sample_rate=48000"
	)
	still := "testsrc2=size=320x240:rate=25,trim=end_frame=1,loop=loop=149:size=1,setpts=N/25/TB"
	for _, tc := range []struct {
		alarm string
		graph string
	}{
		{AlarmBlack, "color=c=black:size=320x240:rate=25:duration=6[b];" + picture + "[p];[b][p]concat=n=2[out0];" + sound + "[out1]"},
		{AlarmFrozen, still + "[s];" + picture + "[p];[s][p]concat=n=2[out0];" + sound + "[out1]"},
		{AlarmSilent, picture + "[out0];anullsrc=r=48000:cl=stereo,atrim=duration=6[z];" + sound + "[a];[z][a]concat=n=2:v=0:a=1[out1]"},
	} {
		t.Run(tc.alarm, func(t *testing.T) {
			t.Parallel()
			at := newAlarmTest(t, tc.graph, func(ch *profiles.Channel) {
				ch.Alarms = profiles.DefaultAlarms()
				ch.Alarms.BlackAfter, ch.Alarms.FrozenAfter, ch.Alarms.SilentAfter =
					profiles.Duration(after), profiles.Duration(after), profiles.Duration(after)
			})
			start := at.firstFrame()
			raised := at.waitAlarms([]string{tc.alarm}, start.Add(after+2*time.Second))
			if d := raised.Sub(start); d < after-500*time.Millisecond {
				t.Errorf("%s raised %v after the first frame, before its %v", tc.alarm, d, after)
			}
			st := at.status()
			if len(st.Inputs) == 0 || !slices.Equal(st.Inputs[0].Alarms, []string{tc.alarm}) {
				t.Errorf("inputs %+v, want the source's alarm", st.Inputs)
			}
			cleared := at.waitAlarms([]string{}, start.Add(bad+2*time.Second))
			t.Logf("%s raised %v and cleared %v after the first frame", tc.alarm, raised.Sub(start).Round(10*time.Millisecond),
				cleared.Sub(start).Round(10*time.Millisecond))
			want := []string{event.AlarmRaised + " " + tc.alarm, event.AlarmCleared + " " + tc.alarm}
			fftest.WaitFor(t, time.Second, "the events", func() bool { return slices.Equal(at.eventList(), want) })
		})
	}
}

// TestAlarmsNotOnSlate puts the slate on air (its source fails at once) with every alarm at its
// shortest: its card and its silence, the channel's own, raise none, in the channel's status,
// the slate's input status and the events.
func TestAlarmsNotOnSlate(t *testing.T) {
	t.Parallel()
	at := newAlarmTest(t, "nullsrc", func(ch *profiles.Channel) {
		ch.FFmpeg.InputArgs = []string{"-f", "lavfi", "-i", "nonexistent_source_filter"}
		ch.Slate = profiles.Slate{Text: "Back soon"}
		ch.Alarms = profiles.DefaultAlarms()
		ch.Alarms.BlackAfter, ch.Alarms.FrozenAfter, ch.Alarms.SilentAfter =
			profiles.Duration(time.Second), profiles.Duration(time.Second), profiles.Duration(time.Second)
	})
	fftest.WaitFor(t, 20*time.Second, "slate on air", func() bool {
		st := at.status()
		return st.OnAir == "slate" && st.Frames > 0
	})
	onAir := time.Now()
	for time.Since(onAir) < 4*time.Second { // the alarms' 1 s + 2 s, and more
		st := at.status()
		if st.OnAir != "slate" {
			t.Fatalf("%s on air", st.OnAir)
		}
		if len(st.Alarms) != 0 || st.Alarms == nil {
			t.Fatalf("alarms %#v with the slate on air", st.Alarms)
		}
		for _, in := range st.Inputs {
			if len(in.Alarms) != 0 {
				t.Fatalf("input %s: alarms %q", in.Name, in.Alarms)
			}
		}
		<-time.After(100 * time.Millisecond)
	}
	if ev := at.eventList(); len(ev) != 0 {
		t.Errorf("events %q", ev)
	}
}

// TestAlarmsNoneOnTestPattern runs the test pattern and its tone for a minute with the default
// alarms: none comes up.
func TestAlarmsNoneOnTestPattern(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute long")
	}
	t.Parallel()
	at := newAlarmTest(t, "", func(ch *profiles.Channel) {
		ch.Source, ch.FFmpeg.InputArgs = profiles.Source{Kind: profiles.SourceTestsrc}, nil
		ch.Alarms = profiles.DefaultAlarms()
	})
	start := at.firstFrame()
	for time.Since(start) < time.Minute {
		st := at.status()
		if len(st.Alarms) != 0 || len(st.Inputs) == 0 || len(st.Inputs[0].Alarms) != 0 {
			t.Fatalf("alarms %q, inputs %+v after %v", st.Alarms, st.Inputs, time.Since(start))
		}
		<-time.After(250 * time.Millisecond)
	}
	if st := at.status(); st.Starts != 1 || st.State != StateRunning {
		t.Errorf("status %+v: want one run throughout", st)
	}
	if ev := at.eventList(); len(ev) != 0 {
		t.Errorf("events %q", ev)
	}
}
