package profiles

import "errors"

// decodeConfig reads the main config file from src, the contents of file. It returns a nil
// Config only when src is not TOML at all: otherwise the profile directory is known and its
// profiles can be checked too.
func decodeConfig(file string, src []byte) (*Config, Errors) {
	d := &decoder{file: file}
	cfg := &Config{Path: file, FFmpeg: defaultFFmpeg, Profiles: defaultProfiles}
	root := d.parse(src)
	if root == nil {
		return nil, d.errs
	}
	d.check(d.str(root, "ffmpeg", &cfg.FFmpeg), notEmpty(cfg.FFmpeg))
	d.check(d.str(root, "profiles", &cfg.Profiles), notEmpty(cfg.Profiles))

	relay := d.table(root, "relay")
	r := &cfg.Relay
	if p := d.str(relay, "listen", &r.Listen); r.Listen != "" {
		_, err := checkAddress(r.Listen, true)
		d.check(p, err)
	}
	rtpPath := d.str(relay, "udp_rtp_address", &r.UDPRTPAddress)
	rtcpPath := d.str(relay, "udp_rtcp_address", &r.UDPRTCPAddress)
	d.checkUDPPair(r, rtpPath, rtcpPath)
	d.unknown(relay)

	d.unknown(root)
	d.errs.sortByLine()
	return cfg, d.errs
}

// checkUDPPair checks the relay's UDP addresses: RTP and RTCP go together, on an even port and
// the next one, as RTP over UDP and gortsplib's server require.
func (d *decoder) checkUDPPair(r *Relay, rtpPath, rtcpPath keyPath) {
	switch {
	case r.UDPRTPAddress == "" && r.UDPRTCPAddress == "":
		return
	case r.UDPRTCPAddress == "":
		d.keyErrorf(rtpPath, "set without relay.udp_rtcp_address: set both or neither")
		return
	case r.UDPRTPAddress == "":
		d.keyErrorf(rtcpPath, "set without relay.udp_rtp_address: set both or neither")
		return
	}
	rtp, rtpErr := checkAddress(r.UDPRTPAddress, false)
	d.check(rtpPath, rtpErr)
	rtcp, rtcpErr := checkAddress(r.UDPRTCPAddress, false)
	d.check(rtcpPath, rtcpErr)
	if rtpErr != nil || rtcpErr != nil {
		return
	}
	if rtp%2 != 0 {
		d.keyErrorf(rtpPath, "port %d must be even", rtp)
	} else if rtcp != rtp+1 {
		d.keyErrorf(rtcpPath, "port %d must be the RTP port + 1 (%d)", rtcp, rtp+1)
	}
}

func notEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}
