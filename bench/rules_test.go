package main

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// rulesSnapshot is a host with links links of four addresses each: a
// global IPv4 and IPv6 address, an IPv6 link-local one and a second IPv4
// address, with default routes of both families. Every fourth link is
// Wi-Fi and every eighth has lost carrier, so that every rule and the
// readiness checks take part.
func rulesSnapshot(links int) watchers.Snapshot {
	var s watchers.Snapshot
	for i := range links {
		idx := 10 + i
		l := watchers.Link{
			Index: idx, Name: fmt.Sprintf("eth%d", i), Kind: "veth",
			Type: "ethernet", Up: true, Carrier: i%8 != 7,
			OperState: "up", MTU: 1500,
		}
		if i%4 == 3 {
			l.Name, l.Type = fmt.Sprintf("wlan%d", i), "wifi"
		}
		s.Links = append(s.Links, l)

		for _, a := range []string{
			fmt.Sprintf("10.%d.%d.1/24", i/256, i%256),
			fmt.Sprintf("10.%d.%d.2/24", i/256, i%256),
			fmt.Sprintf("2001:db8:%x::1/64", i),
			fmt.Sprintf("fe80::%x/64", i+1),
		} {
			p := netip.MustParsePrefix(a)
			scope := uint8(0)
			if p.Addr().IsLinkLocalUnicast() {
				scope = 253
			}
			s.Addrs = append(s.Addrs, watchers.Addr{
				Index: idx, Prefix: p, Scope: scope,
				Flags:        watchers.AddrPermanent,
				PreferredLft: watchers.Forever, ValidLft: watchers.Forever,
			})
		}

		gw4 := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.254", i/256, i%256))
		gw6 := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::fe", i))
		s.Routes = append(s.Routes,
			watchers.Route{Family: 4, Dst: netip.MustParsePrefix("0.0.0.0/0"),
				LinkIndex: idx, Gateway: gw4, Metric: 100 + i, Table: 254},
			watchers.Route{Family: 6, Dst: netip.MustParsePrefix("::/0"),
				LinkIndex: idx, Gateway: gw6, Metric: 100 + i, Table: 254})
	}

	return s
}

// BenchmarkDefaultRules64x4 is figure 6: one evaluation of the embedded
// default rules over a snapshot of 64 links with 4 addresses each, from
// snapshot to wanted endpoints (engine.Facts, then engine.Choose).
func BenchmarkDefaultRules64x4(b *testing.B) {
	set := rules.Default()
	s := rulesSnapshot(64)
	var wanted int
	for b.Loop() {
		facts := engine.Facts(s, set.Settings())
		_, eps := engine.Choose(facts, set)
		wanted = len(eps)
	}
	b.ReportMetric(float64(wanted), "endpoints")
}

// TestRulesSnapshot checks that the benchmark's input makes the rules do
// real work: some addresses are eligible, some are not, and the Wi-Fi
// links get backup endpoints.
func TestRulesSnapshot(t *testing.T) {
	set := rules.Default()
	facts := engine.Facts(rulesSnapshot(64), set.Settings())
	if len(facts) != 64*4 {
		t.Fatalf("unexpected fact count: want %d, got %d", 64*4, len(facts))
	}

	choices, eps := engine.Choose(facts, set)
	var eligible, backup int
	for _, c := range choices {
		if c.Eligible() {
			eligible++
		}
		if c.Endpoint != nil && c.Endpoint.Flags&0x4 != 0 {
			backup++
		}
	}
	if eligible == 0 || eligible == len(facts) {
		t.Errorf("unexpected eligible count %d of %d: want some but not all",
			eligible, len(facts))
	}
	if backup == 0 {
		t.Error("no Wi-Fi address got a backup endpoint")
	}
	if len(eps) == 0 {
		t.Error("no endpoint wanted")
	}
}
