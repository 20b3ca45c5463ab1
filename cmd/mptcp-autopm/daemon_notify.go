package main

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// notify sends state to systemd's notification socket, as sd_notify(3)
// does, when NOTIFY_SOCKET is set; it does nothing otherwise. Errors are
// ignored, as sd_notify callers usually do: the daemon works the same
// without a service manager.
func notify(state string) {
	_ = notifyTo(os.Getenv("NOTIFY_SOCKET"), state)
}

func notifyTo(path, state string) error {
	if path == "" {
		return nil
	}
	// An abstract socket is given with a leading "@" (sd_notify(3)).
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}

	conn, err := net.DialUnix("unixgram", nil,
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()

	_, err = conn.Write([]byte(state))

	return err
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1 (sd_notify(3), MONOTONIC_USEC).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}

	return ts.Nano() / 1000
}
