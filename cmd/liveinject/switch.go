package main

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"

	"github.com/liveinject/liveinject/profiles"
)

// switchInput puts a channel's input on air in a running liveinject, or gives the choice back to
// the channel's rules, through its HTTP endpoint. "backup 2" may come as one argument or two.
func (m *Main) switchInput(ctx context.Context, args []string) int {
	fs := m.newFlagSet(switchCommand)
	addr := fs.String("addr", profiles.DefaultHTTPListen, "host:port of liveinject's HTTP endpoint (its [http] listen)")
	if code, ok := m.parse(fs, switchCommand, args, true); !ok {
		return code
	}
	if fs.NArg() < 2 {
		fmt.Fprintf(m.Stderr, "liveinject switch: give a channel name and an input: liveinject switch [-addr host:port] %s\n",
			strings.TrimPrefix(switchCommand.args, "[-addr host:port] "))
		return exitConfig
	}
	for _, arg := range fs.Args() {
		if strings.HasPrefix(arg, "-") {
			fmt.Fprintf(m.Stderr, "liveinject switch: %q after an argument: flags come first: liveinject switch %s\n",
				arg, switchCommand.args)
			return exitConfig
		}
	}
	name, target := fs.Arg(0), strings.Join(fs.Args()[1:], " ")
	path := "/channels/" + neturl.PathEscape(name) + "/switch?to=" + neturl.QueryEscape(target)
	if _, err := request(ctx, http.MethodPost, *addr, path, http.StatusOK); err != nil {
		fmt.Fprintf(m.Stderr, "liveinject switch: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(m.Stdout, switchedText(name, target))
	return exitOK
}
