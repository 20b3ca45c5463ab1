package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// TestTrafficFailover runs one long MPTCP transfer from a laptop with eth0
// and wlan0 to a server behind both, with the daemon on its defaults.
// Subflows must run over both paths with Wi-Fi as backup while eth0 is
// usable; data must keep flowing over wlan0 after eth0 loses carrier; and
// after the redock a subflow over eth0 must join the same connection again.
func TestTrafficFailover(t *testing.T) {
	tp := serverTopo(t)
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))
	tp.expect("docked", "4/2", eth0S1, wlanS1)

	// The server's own events, from iproute2 to keep the check
	// independent of our monitor: the local side reports backup=0 for a
	// subflow from a backup endpoint, only the peer sees backup=1.
	events := monitor(t, tp.net, "server", "ip", "mptcp", "monitor")
	sink, st := transfer(t, tp, 20<<20)
	if got := st.LocalAddr().String(); !strings.HasPrefix(got, "192.0.2.10:") {
		t.Fatalf("initial subflow left from %s, want eth0's 192.0.2.10", got)
	}

	waitFor(t, "a backup subflow from wlan0 at the server", func() bool {
		return hasEvent(events.String(), "SF_ESTABLISHED", "daddr4=198.51.100.20", "backup=1")
	}, events)

	tp.carrier("eth0", false)
	tp.expect("undocked", "3/2", wlanS2)
	flowing(t, sink, "after carrier-off eth0")

	mark := len(events.String())
	tp.carrier("eth0", true)
	tp.expect("redocked", "4/2", eth0S1, wlanS1)
	waitFor(t, "a subflow from eth0 joining again after the redock", func() bool {
		return hasEvent(events.String()[mark:], "SF_ESTABLISHED", "daddr4=192.0.2.10")
	}, events)
	flowing(t, sink, "after the redock")
}

// serverTopo is S1's laptop, not yet running the daemon, with a server
// address 198.18.0.100 in net reachable over both links.
func serverTopo(t *testing.T) *topo {
	t.Helper()
	tp := newTopo(t)
	tp.link("eth0")
	tp.link("wlan0")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.addr("wlan0", "198.51.100.20/24", true)
	tp.net.IP("addr", "add", "198.18.0.100/32", "dev", "lo")
	tp.net.IP("mptcp", "limits", "set", "subflows", "8",
		"add_addr_accepted", "8")

	return tp
}

// transfer starts a sink on the server and one MPTCP stream to it from
// the laptop, sending at most rate bytes per second.
func transfer(t *testing.T, tp *topo, rate int) (*nstest.Sink, *nstest.Stream) {
	t.Helper()
	sink, err := tp.net.ListenMPTCP("198.18.0.100:18080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sink.Close)

	st, err := tp.host.StreamMPTCP(sink.Addr(), rate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })

	return sink, st
}

// monitor runs an event monitor (argv) in ns and returns its output once
// it has joined the event group: an MPTCP listen() makes a listener event
// (iproute2 6.1 prints it as "UNKNOWN 15"), so probe listeners are opened
// until one is seen.
func monitor(t *testing.T, ns *nstest.NS, name string, argv ...string) *syncBuffer {
	t.Helper()
	cmd := ns.Command(argv[0], argv[1:]...)
	events := &syncBuffer{}
	cmd.Stdout = events
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s monitor: %v", name, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	waitFor(t, name+" monitor's listener event", func() bool {
		probe, err := ns.ListenMPTCP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(events.String(), "UNKNOWN 15") ||
			strings.Contains(events.String(), "LISTENER")
	}, events)

	return events
}

// flowing checks that at least 1 MiB more reaches the sink.
func flowing(t *testing.T, sink interface{ Received() int64 }, when string) {
	t.Helper()
	start := sink.Received()
	waitFor(t, "data flowing "+when, func() bool {
		return sink.Received()-start > 1<<20
	}, nil)
}

func hasEvent(log, kind string, attrs ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, kind) {
			continue
		}
		ok := true
		for _, a := range attrs {
			ok = ok && strings.Contains(line, " "+a)
		}
		if ok {
			return true
		}
	}

	return false
}

// waitFor waits for cond, bounded; it fails with what, and the events seen.
func waitFor(t *testing.T, what string, cond func() bool, events *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ev := ""
			if events != nil {
				ev = events.String()
			}
			t.Fatalf("no %s; server events:\n%s", what, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
