//go:build !linux

package inject

import (
	"net"
	"os"
)

// unsent would return how many of the bytes written to a TCP connection the kernel still holds;
// only Linux tells (SIOCOUTQ), so elsewhere a server that stops reading is not seen as stalled.
func unsent(net.Conn) (int, bool) { return 0, false }

// pipeQueued would return the bytes in a pipe that its reader has not read; only Linux tells.
func pipeQueued(*os.File) (int, bool) { return 0, false }
