package main

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/webhook"
	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/supervisor"
)

// collector turns the supervisor's and the relay's snapshots into metrics at scrape time.
type collector struct {
	inst              *instance
	version, revision string
	hist              *history
	thumbs            *thumbnailer

	buildInfo, profileErrors, thumbnailDecodes                                      *prometheus.Desc
	channelUp, channelState, ffmpegStarts, stalls, frames, audioFrames              *prometheus.Desc
	demuxErrors, fps, speed, bitrate, lastFrame, holding, held                      *prometheus.Desc
	onAir, inputSwitches, inputUp                                                   *prometheus.Desc
	destinationInfo, destinationUp, destinationState                                *prometheus.Desc
	packetsSent, packetsDropped, sentBytes                                          *prometheus.Desc
	reconnects, failedAttempts, queued, waitingBytes, stalledSeconds                *prometheus.Desc
	verified, verifyState, serverDelay                                              *prometheus.Desc
	relayReaders, relayPackets                                                      *prometheus.Desc
	alarm                                                                           *prometheus.Desc
	recordUp, recordState, recordBytesWritten, recordBytesOnDisk, recordSegments    *prometheus.Desc
	recordDeleted, recordFreeBytes, recordErrors                                    *prometheus.Desc
	webhookDeliveries, webhookDropped, webhookQueued, webhookUp, webhookLastSuccess *prometheus.Desc
}

// The states of channel_state and destination_state: every one is exported, 1 for the current.
var (
	channelStates = []string{supervisor.StateStarting, supervisor.StateRunning, supervisor.StateBackoff,
		supervisor.StateStopped, supervisor.StateError}
	destinationStates = []string{inject.StateWaiting, inject.StateConnecting, inject.StateRecording,
		inject.StateStalled, inject.StateBackoff, inject.StateAuthFailed, inject.StateStopped}
	// verifyStates are those of destination_verify_state.
	verifyStates = []string{inject.VerifyOff, inject.VerifyChecking, inject.VerifyVerified, inject.VerifyUnverified}
	// switchReasons are those of input_switches_total: every one is exported, 0 before the first.
	switchReasons = []string{supervisor.SwitchFailed, supervisor.SwitchReturned, supervisor.SwitchManual}
	// alarms are those of channel_alarm: every one is exported, 1 while it is up.
	alarms = []string{supervisor.AlarmBlack, supervisor.AlarmFrozen, supervisor.AlarmSilent}
	// recordStates are those of record_state, deleteReasons those of
	// record_segments_deleted_total.
	recordStates  = []string{record.StateWaiting, record.StateRecording, record.StateError}
	deleteReasons = []string{record.DeletedKeep, record.DeletedMaxSize, record.DeletedMinFree}
)

func newCollector(inst *instance, version, revision string, hist *history, thumbs *thumbnailer) *collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("liveinject_"+name, help, labels, nil)
	}
	ch, dest := []string{"channel"}, []string{"channel", "destination"}
	return &collector{
		inst:     inst,
		version:  version,
		revision: revision,
		hist:     hist,
		thumbs:   thumbs,

		buildInfo:        desc("build_info", "Always 1; the labels say which liveinject runs: its version and VCS revision (\"\" when the build did not record it).", "version", "revision"),
		profileErrors:    desc("profile_errors", "Mistakes in config and profile files kept at their last good version."),
		thumbnailDecodes: desc("thumbnail_decodes_total", "ffmpeg runs that decoded a channel's keyframe for a thumbnail."),

		channelUp:    desc("channel_up", "1 while the channel's ffmpeg delivers frames.", ch...),
		channelState: desc("channel_state", "1 for the channel's state (starting, running, backoff, stopped, error), 0 for the others.", "channel", "state"),
		ffmpegStarts: desc("channel_ffmpeg_starts_total", "ffmpeg starts of the channel; each after the first is a restart.", ch...),
		stalls:       desc("channel_stalls_total", "ffmpeg restarts because frames stopped coming.", ch...),
		frames:       desc("channel_frames_total", "Video frames handed to the channel's destinations.", ch...),
		audioFrames:  desc("channel_audio_frames_total", "Audio frames handed to the channel's destinations.", ch...),
		demuxErrors:  desc("channel_demux_errors_total", "Damage in the channel's MPEG-TS that the demuxer recovered from.", ch...),
		fps:          desc("channel_fps", "Frames per second ffmpeg last reported encoding; 0 when none runs.", ch...),
		speed:        desc("channel_speed", "ffmpeg's encoding speed as a ratio to real time; below 1 the box cannot keep up.", ch...),
		bitrate:      desc("channel_bitrate_bits_per_second", "Bits per second the channel's busiest destination sent over the last sampling interval (2 s).", ch...),
		lastFrame:    desc("channel_last_frame_timestamp_seconds", "Unix time of the last frame the channel's ffmpeg delivered; absent before the first.", ch...),
		holding:      desc("channel_holding", "1 while the channel's frames have stopped and its destinations get its last picture again.", ch...),
		held:         desc("channel_held_seconds_total", "Time the channel's destinations got its last picture again, its frames having stopped.", ch...),

		onAir:         desc("channel_on_air", "1 for the channel's input whose frames the destinations get (source, backup N, slate; hold while none does), 0 for the others.", "channel", "input"),
		inputSwitches: desc("channel_input_switches_total", "Changes of the channel's input on air, by reason: failed (the input on air gave no frame, or a reload removed it), returned (an earlier input works again), manual (an operator's switch).", "channel", "reason"),
		inputUp:       desc("channel_input_up", "1 while the channel's input (source, backup N, slate) delivers frames, on air or not.", "channel", "input"),

		// The kind is a label of its own series rather than of every destination metric: series
		// that existing rules, alerts and dashboards select on channel and destination stay
		// the same, and a query that wants the kind joins it in
		// (* on (instance, channel, destination) group_left (kind) liveinject_destination_info).
		destinationInfo:  desc("destination_info", "Always 1; the kind label says what the destination is: rtsp (rtsp:// and rtsps://, RTP), rtmp (rtmp:// and rtmps://, FLV), srt (MPEG-TS over SRT). Only rtsp is played back by the return check.", "channel", "destination", "kind"),
		destinationUp:    desc("destination_up", "1 while the destination is recording.", dest...),
		destinationState: desc("destination_state", "1 for the destination's state (waiting, connecting, recording, stalled, backoff, auth_failed, stopped), 0 for the others.", "channel", "destination", "state"),
		packetsSent:      desc("destination_packets_sent_total", "RTP packets written to the destination's server; for an rtmp or srt destination (see liveinject_destination_info), frames: one per video frame, one per AAC frame.", dest...),
		packetsDropped:   desc("destination_packets_dropped_total", "RTP packets the destination threw away; frames for an rtmp or srt destination.", dest...),
		sentBytes:        desc("destination_sent_bytes_total", "Bytes written to the destination's server: RTP and RTCP; for rtmp, the connection's; for srt, the MPEG-TS handed to the destination's ffmpeg.", dest...),
		reconnects:       desc("destination_reconnects_total", "Sessions of the destination re-established after one ended.", dest...),
		failedAttempts:   desc("destination_failed_attempts_total", "Tries of the destination that never began to record.", dest...),
		queued:           desc("destination_queued_frames", "Frames waiting in the destination's queue.", dest...),
		waitingBytes:     desc("destination_waiting_bytes", "Bytes in the destination's TCP connection that its server has not taken yet (unsent or unacknowledged).", dest...),
		stalledSeconds:   desc("destination_stalled_seconds", "Seconds since any byte reached the destination's server, while it is stalled (not reading what is sent); 0 otherwise.", dest...),

		verified:    desc("destination_verified", "1 while what the destination's server plays back at the URL players use is the channel's stream (return check verified).", dest...),
		verifyState: desc("destination_verify_state", "1 for the state of the destination's return check (off, checking, verified, unverified), 0 for the others.", "channel", "destination", "state"),
		serverDelay: desc("destination_server_delay_seconds", "While verified: the time from a packet's send to its return from the destination's server (its buffer); absent otherwise.", dest...),

		relayReaders: desc("relay_readers", "Players reading the built-in relay's path.", "path"),
		relayPackets: desc("relay_packets_received_total", "RTP packets the built-in relay's path received from its publisher.", "path"),

		alarm:              desc("channel_alarm", "1 while the content alarm (black: the picture is black, frozen: it stands still, silent: the sound is silent) is up on the channel's input on air, 0 otherwise.", "channel", "alarm"),
		recordUp:           desc("record_up", "1 while the channel's recording works (recording, or waiting for a keyframe to begin a segment), 0 in state error (it cannot write: see /status record.cause). Absent when the channel does not record.", ch...),
		recordState:        desc("record_state", "1 for the state of the channel's recording (waiting, recording, error), 0 for the others; absent when the channel does not record.", "channel", "state"),
		recordBytesWritten: desc("record_written_bytes_total", "Bytes of the channel's recording written to disk since liveinject started.", ch...),
		recordBytesOnDisk:  desc("record_disk_bytes", "Size of the channel's closed segments on disk.", ch...),
		recordSegments:     desc("record_segments", "Closed segments of the channel's recording on disk.", ch...),
		recordDeleted:      desc("record_segments_deleted_total", "Segments of the channel that retention deleted, by reason: keep (older than keep), max_size (the channel's segments took more than max_size), min_free (the file system had less free space than min_free).", "channel", "reason"),
		recordFreeBytes:    desc("record_free_bytes", "Free space of the file system of the channel's recording folder, as last looked at.", ch...),
		recordErrors:       desc("record_errors_total", "Failures of the channel's recording: a write, a rename, a sync, a full disk.", ch...),
		webhookDeliveries:  desc("webhook_deliveries_total", "Tries to deliver an event to the webhook, by result: ok (2xx), failed (no answer, 408, 429, 5xx or a redirect: tried again), rejected (another 4xx: not tried again).", "webhook", "result"),
		webhookDropped:     desc("webhook_dropped_events_total", "Events the webhook never got: the oldest, dropped when its queue was full, and those still queued when liveinject stopped.", "webhook"),
		webhookQueued:      desc("webhook_queued_events", "Events waiting for the webhook, the one being tried included.", "webhook"),
		webhookUp:          desc("webhook_up", "0 from a failed try until a try succeeds, else 1.", "webhook"),
		webhookLastSuccess: desc("webhook_last_success_timestamp_seconds", "Unix time of the webhook's last delivered event; absent before the first.", "webhook"),
	}
}

func (c *collector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.buildInfo, c.profileErrors, c.thumbnailDecodes,
		c.channelUp, c.channelState, c.ffmpegStarts, c.stalls, c.frames, c.audioFrames,
		c.demuxErrors, c.fps, c.speed, c.bitrate, c.lastFrame, c.holding, c.held,
		c.onAir, c.inputSwitches, c.inputUp,
		c.destinationInfo, c.destinationUp, c.destinationState, c.packetsSent, c.packetsDropped, c.sentBytes,
		c.reconnects, c.failedAttempts, c.queued, c.waitingBytes, c.stalledSeconds,
		c.verified, c.verifyState, c.serverDelay,
		c.relayReaders, c.relayPackets,
		c.alarm,
		c.recordUp, c.recordState, c.recordBytesWritten, c.recordBytesOnDisk, c.recordSegments,
		c.recordDeleted, c.recordFreeBytes, c.recordErrors,
		c.webhookDeliveries, c.webhookDropped, c.webhookQueued, c.webhookUp, c.webhookLastSuccess,
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.buildInfo, 1, c.version, c.revision)
	var profileErrors int
	if errs := c.inst.profileErrors.Load(); errs != nil {
		profileErrors = len(*errs)
	}
	gauge(c.profileErrors, float64(profileErrors))
	counter(c.thumbnailDecodes, c.thumbs.Decodes())
	now := time.Now()
	for _, s := range c.inst.sup.Status() {
		gauge(c.channelUp, one(s.State == supervisor.StateRunning), s.Name)
		for _, state := range channelStates {
			gauge(c.channelState, one(s.State == state), s.Name, state)
		}
		counter(c.ffmpegStarts, s.Starts, s.Name)
		counter(c.stalls, s.Stalls, s.Name)
		counter(c.frames, s.Frames, s.Name)
		counter(c.audioFrames, s.AudioFrames, s.Name)
		counter(c.demuxErrors, s.DemuxErrors, s.Name)
		gauge(c.holding, one(!s.HoldingSince.IsZero()), s.Name)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.CounterValue, heldFor(s, now).Seconds(), s.Name)
		for _, in := range s.Inputs {
			gauge(c.onAir, one(s.OnAir == in.Name), s.Name, in.Name)
			gauge(c.inputUp, one(in.State == supervisor.StateRunning), s.Name, in.Name)
		}
		gauge(c.onAir, one(s.OnAir == "hold"), s.Name, "hold")
		for _, reason := range switchReasons {
			counter(c.inputSwitches, s.Switches[reason], s.Name, reason)
		}
		for _, a := range alarms {
			gauge(c.alarm, one(slices.Contains(s.Alarms, a)), s.Name, a)
		}
		gauge(c.fps, s.Progress.FPS, s.Name)
		gauge(c.speed, s.Progress.Speed, s.Name)
		if p, ok := c.hist.Latest(s.Name); ok {
			gauge(c.bitrate, p.Kbps*1000, s.Name)
		}
		if t := c.inst.sup.LastFrame(s.Name); !t.IsZero() {
			gauge(c.lastFrame, float64(t.UnixNano())/1e9, s.Name)
		}
		for _, d := range s.Destinations {
			gauge(c.destinationInfo, 1, s.Name, d.URL, DestinationKind(d.URL))
			gauge(c.destinationUp, one(d.State == inject.StateRecording), s.Name, d.URL)
			for _, state := range destinationStates {
				gauge(c.destinationState, one(d.State == state), s.Name, d.URL, state)
			}
			counter(c.packetsSent, d.PacketsSent, s.Name, d.URL)
			counter(c.packetsDropped, d.PacketsDropped, s.Name, d.URL)
			counter(c.sentBytes, d.BytesSent, s.Name, d.URL)
			counter(c.reconnects, d.Reconnects, s.Name, d.URL)
			counter(c.failedAttempts, d.FailedAttempts, s.Name, d.URL)
			gauge(c.queued, float64(d.QueueDepth), s.Name, d.URL)
			gauge(c.waitingBytes, float64(d.BytesWaiting), s.Name, d.URL)
			var stalled float64
			if !d.StalledSince.IsZero() {
				stalled = now.Sub(d.StalledSince).Seconds()
			}
			gauge(c.stalledSeconds, stalled, s.Name, d.URL)
			c.collectVerify(ch, s.Name, d)
		}
		c.collectRecord(ch, s.Name, s.Record)
	}
	if c.inst.relay != nil {
		for _, p := range c.inst.relay.Paths() {
			gauge(c.relayReaders, float64(p.Readers), p.Path)
			counter(c.relayPackets, p.Packets, p.Path)
		}
	}
	if c.inst.webhooks != nil {
		for _, h := range c.inst.webhooks.Stats() {
			for _, result := range []string{webhook.ResultOK, webhook.ResultFailed, webhook.ResultRejected} {
				counter(c.webhookDeliveries, h.Deliveries[result], h.Name, result)
			}
			counter(c.webhookDropped, h.Dropped, h.Name)
			gauge(c.webhookQueued, float64(h.Queued), h.Name)
			gauge(c.webhookUp, one(h.Up), h.Name)
			if !h.LastSuccess.IsZero() {
				gauge(c.webhookLastSuccess, float64(h.LastSuccess.UnixNano())/1e9, h.Name)
			}
		}
	}
}

// collectVerify exports the return check of channel's destination d.
func (c *collector) collectVerify(ch chan<- prometheus.Metric, channel string, d inject.Stats) {
	state := verifyState(d.Verify)
	ch <- prometheus.MustNewConstMetric(c.verified, prometheus.GaugeValue, one(state == inject.VerifyVerified), channel, d.URL)
	for _, st := range verifyStates {
		ch <- prometheus.MustNewConstMetric(c.verifyState, prometheus.GaugeValue, one(state == st), channel, d.URL, st)
	}
	if state == inject.VerifyVerified {
		ch <- prometheus.MustNewConstMetric(c.serverDelay, prometheus.GaugeValue, d.Verify.ServerDelay.Seconds(), channel, d.URL)
	}
}

// collectRecord exports channel's recording, nothing when it does not record.
func (c *collector) collectRecord(ch chan<- prometheus.Metric, channel string, r *record.Stats) {
	if r == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{channel}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{channel}, labels...)...)
	}
	gauge(c.recordUp, one(r.State != record.StateError))
	for _, state := range recordStates {
		gauge(c.recordState, one(r.State == state), state)
	}
	counter(c.recordBytesWritten, r.BytesWritten)
	gauge(c.recordBytesOnDisk, float64(r.BytesOnDisk))
	gauge(c.recordSegments, float64(r.Segments))
	for _, reason := range deleteReasons {
		counter(c.recordDeleted, r.Deleted[reason], reason)
	}
	gauge(c.recordFreeBytes, float64(r.FreeBytes))
	counter(c.recordErrors, r.Errors)
}

// one is 1 for true and 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
