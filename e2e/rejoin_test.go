package e2e

import (
	"strings"
	"testing"
)

// TestRejoinAfterFailedJoin makes the redock failure deterministic: while
// eth0 is undocked, its gateway stops answering ARP, so the subflow the
// kernel opens from eth0's endpoint after the redock fails with
// EHOSTUNREACH (error=113) when the neighbour entry fails. The kernel
// never retries it; the daemon must add the endpoint again (1 s after
// the failure) so that a subflow from eth0 joins once the gateway
// answers again.
func TestRejoinAfterFailedJoin(t *testing.T) {
	tp := serverTopo(t)
	// Neighbour resolution on eth0 fails after 3 probes 100 ms apart.
	tp.host.Sysctl("net.ipv4.neigh.eth0.retrans_time_ms", "100")
	tp.host.Sysctl("net.ipv4.neigh.eth0.mcast_solicit", "3")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))
	tp.expect("docked", "4/2", eth0S1, wlanS1)

	bin := binary(t)
	server := monitor(t, tp.net, "server", bin, "monitor")
	laptop := monitor(t, tp.host, "laptop", bin, "monitor")
	sink, _ := transfer(t, tp, 4<<20)
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
