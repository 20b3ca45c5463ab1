package watchers

import (
	"io/fs"
	"log/slog"
	"time"
)

// Options configure Watch.
type Options struct {
	// NetNS is the bind-mount path of the network namespace to follow
	// ("/run/netns/NAME"); "" follows the caller's own namespace.
	NetNS string
	// Log receives the watcher's messages; nil discards them.
	Log *slog.Logger
	// RcvBuf is the receive buffer of each rtnetlink socket, in bytes;
	// 0 means DefaultRcvBuf. Watch forces it past net.core.rmem_max when
	// it has CAP_NET_ADMIN.
	RcvBuf int
	// MPTCPEvents also follows the "mptcp_pm_events" genetlink group and
	// fills Snapshot.MPTCP. Joining needs CAP_NET_ADMIN on current
	// kernels; without it Watch logs one warning and goes on without.
	// These events also produce snapshots, in which only MPTCP changed:
	// they are facts for status and for rules that read addr.subflows;
	// the engine reconciles after them only for such rules.
	MPTCPEvents bool
	// Sysfs is the sysfs root read for link type detection (ReadSysfs).
	// nil means os.DirFS("/sys") when NetNS is "", and no sysfs at all
	// when NetNS names another namespace, whose links the caller's /sys
	// does not show.
	Sysfs fs.FS
}

// DefaultRcvBuf is the receive buffer used when Options.RcvBuf is 0: large
// enough for the messages of a few thousand routes, so that a burst (a
// link going down with its routes) does not overrun it.
const DefaultRcvBuf = 4 << 20

// Backoff bounds between a failed watch session and the next one. A
// session that lasted longer than backoffReset starts again at
// minBackoff.
const (
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 30 * time.Second
	backoffReset = time.Minute
)

// nextBackoff returns the wait after a session that lasted lasted, given
// the previous wait.
func nextBackoff(prev, lasted time.Duration) time.Duration {
	if prev == 0 || lasted >= backoffReset {
		return minBackoff
	}

	return min(2*prev, maxBackoff)
}

// publish sends s on ch, replacing an unread older snapshot, so that the
// reader always gets the latest one and the sender never blocks. Only one
// goroutine may send on ch.
func publish(ch chan Snapshot, s Snapshot) {
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
