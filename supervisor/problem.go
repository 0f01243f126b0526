package supervisor

import "fmt"

// Problem is something found before ffmpeg starts that will likely make it fail: the channel
// still starts, and retries until the problem is fixed.
type Problem struct {
	Channel string
	File    string // the channel's profile
	Msg     string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("channel %q (%s): %s", p.Channel, p.File, p.Msg)
}
