package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// fakeInput is the fake ffmpeg of an input whose file (the argument of -i) says what it does,
// read again twice a second: "play" writes FAKE_FFMPEG_TS (one second, a keyframe first) over
// and over, "play-silent" FAKE_FFMPEG_TS_VIDEO (the same without audio), "hang" writes nothing, "fail" exits as a busy camera does. It holds an exclusive
// lock on its file while it runs, as a capture device that opens once: an ffmpeg that finds
// it taken writes "busy FILE" to FAKE_FFMPEG_LOG and fails. It logs "start FILE" there too.
// The slate (a lavfi graph) plays. SIGINT ends it after 300 ms, as ffmpeg takes a while to
// finish.
func fakeInput() int {
	signal.Ignore(syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	logf := func(format string, a ...any) {
		if f, err := os.OpenFile(os.Getenv("FAKE_FFMPEG_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, format+"\n", a...)
			f.Close()
		}
	}
	ctl := os.Args[slices.Index(os.Args, "-i")+1]
	if !filepath.IsAbs(ctl) {
		ctl = "slate"
	} else {
		f, err := os.Open(ctl)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			logf("busy %s", filepath.Base(ctl))
			fmt.Fprintf(os.Stderr, "Cannot open video device %s: Device or resource busy\n", ctl)
			return 3
		}
	}
	logf("start %s", filepath.Base(ctl))
	ts, err := os.ReadFile(os.Getenv("FAKE_FFMPEG_TS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		mode := "play"
		if ctl != "slate" {
			b, err := os.ReadFile(ctl)
			if err != nil { // the device was unplugged
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			mode = strings.TrimSpace(string(b))
		}
		switch mode {
		case "fail":
			fmt.Fprintf(os.Stderr, "Cannot open video device %s: No such device\n", ctl)
			return 3
		case "play":
			if _, err := os.Stdout.Write(ts); err != nil {
				return 1
			}
		case "play-silent": // a camera without a microphone: FAKE_FFMPEG_TS_VIDEO
			b, err := os.ReadFile(os.Getenv("FAKE_FFMPEG_TS_VIDEO"))
			if err == nil {
				_, err = os.Stdout.Write(b)
			}
			if err != nil {
				return 1
			}
		}
		select {
		case <-stop:
			time.Sleep(300 * time.Millisecond) // like ffmpeg, which finishes its output
			return 255
		case <-tick.C:
		}
	}
}

// inputsTest is a channel whose source and backups are fake inputs (see fakeInput) the test
// switches on and off.
type inputsTest struct {
	t    *testing.T
	dir  string
	s    *Supervisor
	logs *fftest.Buffer
	// events are what the channel told
	events eventLog
}

func newInputsTest(t *testing.T, backups int, change func(*profiles.Channel)) (*inputsTest, profiles.Channel) {
	t.Setenv("FAKE_FFMPEG", "inputs")
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	dir := t.TempDir()
	t.Setenv("FAKE_FFMPEG_LOG", filepath.Join(dir, "log"))
	it := &inputsTest{t: t, dir: dir, logs: &fftest.Buffer{}}
	p := testProfile()
	p.Source = profiles.Source{Kind: "file", Path: it.set("source", "play")}
	for i := 1; i <= backups; i++ {
		p.Backups = append(p.Backups, profiles.Source{Kind: "file", Path: it.set(fmt.Sprintf("backup%d", i), "play")})
	}
	p.FailoverAfter = profiles.Duration(1500 * time.Millisecond)
	p.ReturnAfter = profiles.Duration(2 * time.Second)
	p.SlateAfter = profiles.Duration(4 * time.Second)
	p.Destinations = []profiles.Destination{{URL: "rtsp://127.0.0.1:1/x.sdp"}}
	if change != nil {
		change(&p)
	}
	pids := newPIDTracker()
	it.s = &Supervisor{FFmpeg: os.Args[0], Channels: []profiles.Channel{p},
		Logger:  slog.New(slog.NewTextHandler(it.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnStart: func(_ string, pid int) { pids.add(pid) }, OnEvent: it.events.sink}
	t.Cleanup(func() { pids.assertReaped(t) })
	runSupervisor(t, it.s)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s\nfake inputs:\n%s", it.logs.String(), it.fakeLog())
		}
	})
	return it, p
}

// set makes input file name do mode, and returns its path.
func (it *inputsTest) set(name, mode string) string {
	path := filepath.Join(it.dir, name)
	if err := os.WriteFile(path, []byte(mode), 0o644); err != nil {
		it.t.Fatal(err)
	}
	return path
}

func (it *inputsTest) fakeLog() string {
	b, _ := os.ReadFile(filepath.Join(it.dir, "log"))
	return string(b)
}

func (it *inputsTest) status() Status {
	if st := it.s.Status(); len(st) == 1 {
		return st[0]
	}
	return Status{} // not started yet
}

// waitOnAir waits until input name is on air.
func (it *inputsTest) waitOnAir(name string, within time.Duration) Status {
	it.t.Helper()
	var st Status
	fftest.WaitFor(it.t, within, name+" on air", func() bool {
		st = it.status()
		return st.OnAir == name
	})
	return st
}

func (it *inputsTest) input(name string) InputStatus {
	for _, in := range it.status().Inputs {
		if in.Name == name {
			return in
		}
	}
	it.t.Fatalf("no input %q", name)
	return InputStatus{}
}

// TestInputsFailOverInOrderAndReturn: with the source failing, the backups are tried in order
// and the first that works goes on air; the ones that failed are retried in the background,
// and the source returns once it has worked for return_after, the backups going on standby.
func TestInputsFailOverInOrderAndReturn(t *testing.T) {
	it, _ := newInputsTest(t, 2, nil)
	it.waitOnAir("source", 10*time.Second)

	it.set("source", "fail")
	it.set("backup1", "fail")
	st := it.waitOnAir("backup 2", 15*time.Second)
	if st.Switches[SwitchFailed] == 0 {
		t.Errorf("switches %v, want one that failed over", st.Switches)
	}
	log := it.fakeLog()
	if b1, b2 := strings.Index(log, "start backup1"), strings.Index(log, "start backup2"); b1 < 0 || b2 < b1 {
		t.Errorf("backup 1 must be tried before backup 2:\n%s", log)
	}

	// the failed inputs are retried on their own backoff: backup 1 comes back first, and goes
	// on air after return_after, at its keyframe
	it.set("backup1", "play")
	it.waitOnAir("backup 1", 20*time.Second)
	it.set("source", "play")
	st = it.waitOnAir("source", 30*time.Second)
	if st.Switches[SwitchReturned] < 2 {
		t.Errorf("switches %v, want two returns", st.Switches)
	}
	fftest.WaitFor(t, 10*time.Second, "backups on standby", func() bool {
		return it.input("backup 1").State == StateStandby && it.input("backup 2").State == StateStandby
	})
	if strings.Contains(it.fakeLog(), "busy") {
		t.Errorf("an input was opened twice:\n%s", it.fakeLog())
	}
}

// TestInputsSlate: with every input failing, the slate goes on air after slate_after, and it
// leaves as soon as an input works again.
func TestInputsSlate(t *testing.T) {
	it, _ := newInputsTest(t, 1, nil)
	it.waitOnAir("source", 10*time.Second)
	it.set("source", "hang")
	it.set("backup1", "fail")
	var hold Status
	fftest.WaitFor(t, 10*time.Second, "hold", func() bool {
		hold = it.status()
		return hold.OnAir == "hold"
	})
	held := time.Now()
	if last := it.input("source"); hold.OnAirSince.IsZero() || time.Since(hold.OnAirSince) < time.Second {
		t.Errorf("on hold since %v (source %+v), want since the source's last frame, failover_after ago", hold.OnAirSince, last)
	}
	it.waitOnAir("slate", 15*time.Second)
	if d := time.Since(held); d < 2*time.Second {
		t.Errorf("slate after %v of hold, want about slate_after less failover_after (2.5 s)", d)
	}
	it.set("backup1", "play")
	st := it.waitOnAir("backup 1", 20*time.Second)
	fftest.WaitFor(t, 10*time.Second, "slate on standby", func() bool { return it.input("slate").State == StateStandby })
	if st.Mode != "auto" {
		t.Errorf("mode %q", st.Mode)
	}
}

// TestInputsManualSwitch: an operator forces an input, which stays on air whatever the rules
// say, and gives control back with auto. An input that is not there is refused. An input
// forced off air and on again at once is never opened twice.
func TestInputsManualSwitch(t *testing.T) {
	it, _ := newInputsTest(t, 2, nil)
	it.waitOnAir("source", 10*time.Second)
	if err := it.s.Switch("test", "backup 3"); !isBadSwitch(err) {
		t.Errorf("switch to backup 3: %v, want a BadSwitchError", err)
	}
	if err := it.s.Switch("nope", "auto"); err == nil {
		t.Error("switch of an unknown channel: no error")
	}
	for range 3 {
		if err := it.s.Switch("test", "backup 2"); err != nil {
			t.Fatal(err)
		}
		st := it.waitOnAir("backup 2", 10*time.Second)
		if st.Mode != "manual" || st.Forced != "backup 2" || st.Switches[SwitchManual] == 0 {
			t.Errorf("mode %q forced %q switches %v", st.Mode, st.Forced, st.Switches)
		}
		if err := it.s.Switch("test", "auto"); err != nil {
			t.Fatal(err)
		}
		// the source has worked throughout: it returns at its next keyframe, and backup 2 is
		// stopped, to be started again at once by the next round
		it.waitOnAir("source", 10*time.Second)
		fftest.WaitFor(t, 10*time.Second, "backup 2 on standby", func() bool { return it.input("backup 2").State == StateStandby })
	}
	if err := it.s.Switch("test", "slate"); err != nil {
		t.Fatal(err)
	}
	it.waitOnAir("slate", 10*time.Second)
	if log := it.fakeLog(); strings.Contains(log, "busy") || strings.Count(log, "start backup2") != 3 {
		t.Errorf("backup 2 must have started 3 times, never while its last ffmpeg ran:\n%s", log)
	}
}

func isBadSwitch(err error) bool {
	_, ok := errors.AsType[*BadSwitchError](err)
	return ok
}

// TestInputsReload: a reload that changes the backups and the slate leaves the input on air
// alone when its own settings did not change, and restarts it when they did.
func TestInputsReload(t *testing.T) {
	it, p := newInputsTest(t, 2, nil)
	it.waitOnAir("source", 10*time.Second)
	it.set("source", "fail")
	it.set("backup1", "fail")
	it.waitOnAir("backup 2", 15*time.Second)
	pid := it.input("backup 2").PID

	next := p
	next.Backups = slices.Clone(p.Backups)
	next.Backups[0].Path = it.set("backup1b", "fail")
	next.Slate.Text = "Back in a minute"
	next.ReturnAfter = profiles.Duration(3 * time.Second)
	it.s.Update([]profiles.Channel{next})
	fftest.WaitFor(t, 10*time.Second, "reload applied", func() bool {
		// backup 1 runs (it is being retried): it restarts with its new file
		return strings.Contains(it.logs.String(), `msg="channel restarted" channel=test file="" inputs="backup 1" changes=`)
	})
	if in := it.input("backup 2"); in.PID != pid || in.Starts != 1 || it.status().OnAir != "backup 2" {
		t.Errorf("backup 2 %+v on air %q: an unchanged input on air must go on", in, it.status().OnAir)
	}

	// a change of its own restarts it, and it stays on air
	next.Backups = slices.Clone(next.Backups)
	next.Backups[1].Path = it.set("backup2b", "play")
	it.s.Update([]profiles.Channel{next})
	fftest.WaitFor(t, 10*time.Second, "backup 2 restarted", func() bool {
		in := it.input("backup 2")
		return in.PID != pid && in.PID != 0
	})
	it.waitOnAir("backup 2", 10*time.Second)

	// without backups, the source is alone; the slate covers it
	next.Backups = nil
	it.s.Update([]profiles.Channel{next})
	it.waitOnAir("slate", 15*time.Second)
	if n := len(it.status().Inputs); n != 2 {
		t.Errorf("%d inputs, want the source and the slate", n)
	}
}

// TestInputComesBackAtOnce: an input whose file is gone fails until its backoff is long; when
// the file is back, it is tried at once rather than at the end of the backoff (watchReady).
func TestInputComesBackAtOnce(t *testing.T) {
	it, p := newInputsTest(t, 1, nil)
	it.waitOnAir("source", 10*time.Second)
	if err := os.Remove(p.Source.Path); err != nil {
		t.Fatal(err)
	}
	var retryAt time.Time
	fftest.WaitFor(t, 30*time.Second, "a backoff of 4 s", func() bool {
		in := it.input("source")
		retryAt = in.RetryAt
		return in.State == StateBackoff && time.Until(retryAt) > 3*time.Second
	})
	it.set("source", "play")
	fftest.WaitFor(t, 10*time.Second, "the source running again", func() bool {
		return it.input("source").State == StateRunning
	})
	if !time.Now().Before(retryAt) {
		t.Errorf("the source ran again at the end of its backoff (%v), not when its file came back", retryAt)
	}
	if !strings.Contains(it.logs.String(), `msg="input is back: trying it now" channel=test input=source`) {
		t.Error("no log line says the input was tried at once")
	}
}

// TestInputWithoutSound: a backup without sound goes on air in a channel with audio: the
// destination keeps its session (no new ANNOUNCE without the audio track) and gets the
// channel's silence on the audio track meanwhile.
func TestInputWithoutSound(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS_VIDEO", fftest.TS(t, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "50", "-an"))
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	it, _ := newInputsTest(t, 1, func(p *profiles.Channel) {
		p.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/test.sdp"}}
	})
	it.set("backup1", "play-silent")
	it.waitOnAir("source", 10*time.Second)
	fftest.WaitFor(t, 10*time.Second, "recording", func() bool {
		d := it.status().Destinations
		return len(d) == 1 && d[0].State == "recording"
	})
	it.set("source", "fail")
	it.waitOnAir("backup 1", 15*time.Second)
	sent := it.status().Destinations[0].PacketsSent
	fftest.WaitFor(t, 10*time.Second, "3 s of the backup", func() bool {
		return it.status().Destinations[0].PacketsSent > sent+300
	})
	st := it.status()
	if d := st.Destinations[0]; d.Reconnects != 0 || st.OnAir != "backup 1" {
		t.Errorf("on air %s, destination %+v: want backup 1 on the first session", st.OnAir, d)
	}
}

// TestInputResumesInItsRun: the source stops giving frames for longer than failover_after, as
// a stalled camera read or a SIGSTOPped ffmpeg does, and resumes in the same run: it goes back
// on air without a discontinuity, so that the injector holds until its frames come at their
// own pace again instead of playing a backlog fast-forward. A source that restarted comes back
// as a new run.
func TestInputResumesInItsRun(t *testing.T) {
	it, _ := newInputsTest(t, 0, func(p *profiles.Channel) { p.Slate.Off = true })
	it.waitOnAir("source", 10*time.Second)
	it.set("source", "hang")
	fftest.WaitFor(t, 10*time.Second, "hold", func() bool { return it.status().OnAir == "hold" })
	it.set("source", "play")
	it.waitOnAir("source", 10*time.Second)
	want := `msg="input on air" channel=test input=source was=hold reason=returned new_run=false`
	if !strings.Contains(it.logs.String(), want) {
		t.Errorf("no line %s", want)
	}
	if n := it.input("source").Starts; n != 1 {
		t.Errorf("the source started %d times, want once", n)
	}
	// with no other input, the hold and its end are the news, not a switch
	fftest.WaitFor(t, 5*time.Second, "live", func() bool { return slices.Contains(it.events.kinds("channel."), event.ChannelLive) })
	if got := it.events.kinds("channel.", "input."); !slices.Equal(got, []string{event.ChannelStarted, event.ChannelHolding, event.ChannelLive}) {
		t.Errorf("events %q, want started, holding, live", got)
	}
}

// TestInputMovesUpOnReload: a reload removes backup 1, so that backup 2, on air, becomes backup
// 1: the input in its new place starts only once its ffmpeg in the old place has stopped, and
// never finds its device taken by itself.
func TestInputMovesUpOnReload(t *testing.T) {
	it, p := newInputsTest(t, 2, nil)
	it.waitOnAir("source", 10*time.Second)
	it.set("source", "fail")
	it.set("backup1", "fail")
	it.waitOnAir("backup 2", 15*time.Second)

	failed := it.status().Switches[SwitchFailed]

	next := p
	next.Backups = p.Backups[1:]
	it.s.Update([]profiles.Channel{next})
	st := it.waitOnAir("backup 1", 15*time.Second)
	// its input on air removed, the channel failed over to what is now backup 1: a switch
	if n := st.Switches[SwitchFailed]; n != failed+1 {
		t.Errorf("%d switches that failed over, want %d", n, failed+1)
	}
	if want := `msg="input on air" channel=test input="backup 1" was=hold reason=failed`; !strings.Contains(it.logs.String(), want) {
		t.Errorf("no line %s", want)
	}
	if log := it.fakeLog(); strings.Contains(log, "busy") {
		t.Errorf("the input was opened while its old ffmpeg still had it:\n%s", log)
	}
	if n := len(it.status().Inputs); n != 3 {
		t.Errorf("%d inputs, want the source, backup 1 and the slate", n)
	}
}
