package supervisor

import (
	"slices"
	"strings"
	"testing"

	"github.com/liveinject/liveinject/profiles"
)

// TestInputProfiles checks the command line of every input of a channel with backups, and
// that the inputs come in the order they go on air, named as the operator counts them.
func TestInputProfiles(t *testing.T) {
	ch := testProfile()
	ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://cam.example/main", Timeout: profiles.Duration(5e9)}
	ch.FFmpeg.ExtraOutputArgs = []string{"-metadata", "service_name=lobby"}
	ch.Backups = []profiles.Source{
		{Kind: "file", Path: "/srv/loop.mp4"},
		{Kind: "ffmpeg", InputArgs: []string{"-f", "lavfi", "-i", "smptebars=size=1280x720:rate=25"}},
	}
	for _, tc := range []struct {
		name   string
		off    bool
		inputs []string // each input's command line holds its text
	}{
		{"with the slate", false, []string{
			"-i rtsp://cam.example/main -map 0:v:0",
			"-re -stream_loop -1 -i /srv/loop.mp4 -map 0:v:0",
			"-f lavfi -i smptebars=size=1280x720:rate=25 -map 0:v:0",
			"-re -f lavfi -i color=c=0x202830:size=1280x720:rate=25,drawtext=expansion=none:text=\\'test\\'",
		}},
		{"slate off", true, []string{
			"-i rtsp://cam.example/main",
			"-i /srv/loop.mp4",
			"-i smptebars=size=1280x720:rate=25",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := ch
			ch.Slate = profiles.Slate{Off: tc.off, Text: "Back soon"}
			names := []string{"source", "backup 1", "backup 2", "slate"}[:len(tc.inputs)]
			if got := InputNames(ch); !slices.Equal(got, names) {
				t.Errorf("names %q, want %q", got, names)
			}
			inputs := InputProfiles(ch)
			if len(inputs) != len(tc.inputs) {
				t.Fatalf("%d inputs, want %d", len(inputs), len(tc.inputs))
			}
			for i, in := range inputs {
				if in.Backups != nil {
					t.Errorf("%s has backups of its own: %+v", names[i], in.Backups)
				}
				args, err := Args(in)
				if err != nil {
					t.Fatalf("%s: %v", names[i], err)
				}
				argv := strings.Join(args, " ")
				// Every input encodes with the channel's settings and ends in its output part;
				// the slate's sound is an input of its own.
				audio := "-map 0:a:0? "
				if names[i] == "slate" {
					audio = "-map 1:a "
				}
				for _, want := range []string{tc.inputs[i], argsX264, audio + argsAAC, "-metadata service_name=lobby " + argsOutput} {
					if !strings.Contains(argv, want) {
						t.Errorf("%s: argv lacks %q:\n%s", names[i], want, argv)
					}
				}
			}
		})
	}
	if len(ch.Backups) != 2 || ch.FFmpeg.InputArgs != nil {
		t.Errorf("InputProfiles changed the channel: %+v", ch)
	}
}
