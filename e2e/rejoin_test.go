package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRejoinAfterFailedJoin makes the redock failure deterministic: while
// eth0 is undocked, its gateway stops answering ARP, so the subflow the
// kernel opens from eth0's endpoint after the redock fails with
// EHOSTUNREACH (error=113) when the neighbour entry fails. The kernel
// never retries it; the daemon must add the endpoint again (1 s after
// the failure) so that a subflow from eth0 joins once the gateway
// answers again.
func TestRejoinAfterFailedJoin(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth0")
	tp.link("wlan0")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.addr("wlan0", "198.51.100.20/24", true)
	tp.net.IP("addr", "add", "198.18.0.100/32", "dev", "lo")
	tp.net.IP("mptcp", "limits", "set", "subflows", "8",
		"add_addr_accepted", "8")
	// Neighbour resolution on eth0 fails after 3 probes 100 ms apart.
	tp.host.Sysctl("net.ipv4.neigh.eth0.retrans_time_ms", "100")
	tp.host.Sysctl("net.ipv4.neigh.eth0.mcast_solicit", "3")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))
	tp.expect("docked", "4/2", eth0S1, wlanS1)

	server := monitor(t, tp, "server", false)
	laptop := monitor(t, tp, "laptop", true)

	sink, err := tp.net.ListenMPTCP("198.18.0.100:18080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sink.Close)
	st, err := tp.host.StreamMPTCP(sink.Addr(), 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	waitFor(t, "a subflow from wlan0 at the server", func() bool {
		return hasEvent(server.String(), "SF_ESTABLISHED",
			"daddr4=198.51.100.20")
	}, server)

	tp.carrier("eth0", false)
	tp.expect("undocked", "3/2", wlanS2)
	flowing(t, sink, "after carrier-off eth0")

	// The gateway stops answering, and the laptop forgets it.
	tp.net.Sysctl("net.ipv4.conf.n-eth0.arp_ignore", "8")
	tp.host.TryIP("neigh", "flush", "dev", "eth0")
	markLaptop, markServer := len(laptop.String()), len(server.String())
	tp.carrier("eth0", true)
	tp.expect("redocked", "4/2", eth0S1, wlanS1)
	waitFor(t, "the subflow from eth0 failing with EHOSTUNREACH",
		func() bool {
			return hasEvent(laptop.String()[markLaptop:], "SF_CLOSED",
				"saddr4=192.0.2.10", "error=113")
		}, laptop)

	tp.net.Sysctl("net.ipv4.conf.n-eth0.arp_ignore", "0")
	waitFor(t, "a subflow from eth0 joining after the failed one",
		func() bool {
			return hasEvent(server.String()[markServer:], "SF_ESTABLISHED",
				"daddr4=192.0.2.10")
		}, server)
	flowing(t, sink, "after the rejoin")
	if log := tp.d.log.String(); !strings.Contains(log,
		`re_added="re-add 192.0.2.10 dev eth0 (its subflows failed`) {
		t.Errorf("no re-add logged; daemon log:\n%s", log)
	}
}

// monitor starts `mptcp-autopm monitor` in the laptop's namespace (host)
// or the server's (net), and returns its output once it prints events.
func monitor(t *testing.T, tp *topo, name string, host bool) *syncBuffer {
	t.Helper()
	ns := tp.net
	if host {
		ns = tp.host
	}
	cmd := ns.Command(binary(t), "monitor")
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
		return strings.Contains(events.String(), "LISTENER")
	}, events)

	return events
}
