package profiles

import (
	"testing"
	"time"
)

func TestBitrate(t *testing.T) {
	tests := []struct {
		text    string
		want    Bitrate
		wantErr bool
		str     string
	}{
		{text: "128000", want: 128_000, str: "128k"},
		{text: "128k", want: 128_000, str: "128k"},
		{text: "128K", want: 128_000, str: "128k"},
		{text: "2.5M", want: 2_500_000, str: "2500k"},
		{text: "4M", want: 4_000_000, str: "4M"},
		{text: "2500k", want: 2_500_000, str: "2500k"},
		{text: "64.1k", want: 64_100, str: "64100"},
		{text: "0", want: 0, str: "0"},
		{text: "", wantErr: true},
		{text: "k", wantErr: true},
		{text: "abc", wantErr: true},
		{text: "-1k", wantErr: true},
		{text: "1e6", wantErr: true},
		{text: "inf", wantErr: true},
		{text: ".5M", wantErr: true},
		{text: "1.2.3k", wantErr: true},
		{text: "4m", wantErr: true}, // milli or mega: better refused than guessed
		{text: "4 M", wantErr: true},
		{text: "99999999999999999999M", wantErr: true},
	}
	for _, tt := range tests {
		var b Bitrate
		err := b.UnmarshalText([]byte(tt.text))
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: got %d, want an error", tt.text, b)
			}
			continue
		}
		if err != nil || b != tt.want {
			t.Errorf("%q: got %d, %v; want %d", tt.text, b, err, tt.want)
		}
		if got := b.String(); got != tt.str {
			t.Errorf("%q: String() = %q, want %q", tt.text, got, tt.str)
		}
		var back Bitrate
		if text, _ := b.MarshalText(); back.UnmarshalText(text) != nil || back != b {
			t.Errorf("%q: %q does not read back as %d", tt.text, text, b)
		}
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		text    string
		want    Size
		wantErr bool
	}{
		{text: "1280x720", want: Size{1280, 720}},
		{text: "640x360", want: Size{640, 360}},
		{text: "0x0", want: Size{0, 0}}, // readable; validation refuses it
		{text: "big", wantErr: true},
		{text: "1280", wantErr: true},
		{text: "1280X720", wantErr: true},
		{text: "1280x", wantErr: true},
		{text: "x720", wantErr: true},
		{text: "1280x720x3", wantErr: true},
		{text: " 1280x720", wantErr: true},
	}
	for _, tt := range tests {
		var s Size
		err := s.UnmarshalText([]byte(tt.text))
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tt.text, s)
			}
			continue
		}
		if err != nil || s != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.text, s, err, tt.want)
		}
		if got := s.String(); got != tt.text {
			t.Errorf("%q: String() = %q", tt.text, got)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		text    string
		want    time.Duration
		wantErr bool
		str     string
	}{
		{text: "2s", want: 2 * time.Second, str: "2s"},
		{text: "500ms", want: 500 * time.Millisecond, str: "500ms"},
		{text: "1.5s", want: 1500 * time.Millisecond, str: "1.5s"},
		{text: "1m", want: time.Minute, str: "1m0s"},
		{text: "5", wantErr: true},
		{text: "", wantErr: true},
		{text: "two seconds", wantErr: true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.text))
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tt.text, d)
			}
			continue
		}
		if err != nil || d.Std() != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.text, d, err, tt.want)
		}
		if got := d.String(); got != tt.str {
			t.Errorf("%q: String() = %q, want %q", tt.text, got, tt.str)
		}
		if text, _ := d.MarshalText(); string(text) != tt.str {
			t.Errorf("%q: MarshalText() = %q, want %q", tt.text, text, tt.str)
		}
	}
}
