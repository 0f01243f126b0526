// Command liveinject captures and encodes live channels with ffmpeg and pushes them into RTSP
// servers such as Darwin Streaming Server with ANNOUNCE, SETUP and RECORD.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	// SIGINT or SIGTERM stops gracefully; a second one exits at once (the kernel then kills the
	// ffmpeg children: they were started with Pdeathsig).
	stop := make(chan os.Signal, 2)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		cancel()
		<-stop
		fmt.Fprintln(os.Stderr, "liveinject: second signal: exiting at once")
		os.Exit(exitFail)
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit((&Main{Stdout: os.Stdout, Stderr: os.Stderr, Reload: hup, TuneRuntime: true}).Run(ctx, os.Args[1:]))
}
