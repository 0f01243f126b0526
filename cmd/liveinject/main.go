// Command liveinject captures and encodes live channels with ffmpeg and pushes them into RTSP
// servers such as Darwin Streaming Server with ANNOUNCE, SETUP and RECORD.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := (&Main{Stdout: os.Stdout, Stderr: os.Stderr, Reload: hup}).Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
