package watchers

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// waitTimeout bounds each wait for a state; DAD with 3 probes takes ~3s.
const waitTimeout = 20 * time.Second

// waitFor reads snapshots until cond holds and returns that snapshot. It
// fails t with the last snapshot seen when waitTimeout passes first.
func waitFor(t *testing.T, ch <-chan Snapshot, what string,
	cond func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.After(waitTimeout)
	var last Snapshot
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatalf("waiting for %s: channel closed; last snapshot:\n%s",
					what, last)
			}
			if s.Seq <= last.Seq {
				t.Fatalf("snapshot seq went from %d to %d", last.Seq, s.Seq)
			}
			last = s
			if cond(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("waiting for %s: timed out; last snapshot:\n%s",
				what, last)
		}
	}
}

func linkNamed(s Snapshot, name string) (Link, bool) {
	i := slices.IndexFunc(s.Links, func(l Link) bool { return l.Name == name })
	if i < 0 {
		return Link{}, false
	}

	return s.Links[i], true
}

func addrIn(s Snapshot, p netip.Prefix) (Addr, bool) {
	i := slices.IndexFunc(s.Addrs, func(a Addr) bool {
		return p.Contains(a.Prefix.Addr()) && a.Prefix.Bits() == p.Bits()
	})
	if i < 0 {
		return Addr{}, false
	}

	return s.Addrs[i], true
}

func routesTo(s Snapshot, table int, dst netip.Prefix) []Route {
	var rs []Route
	for _, r := range s.Routes {
		if r.Table == table && r.Dst == dst {
			rs = append(rs, r)
		}
	}

	return rs
}

func TestWatchNamespace(t *testing.T) {
	ns := nstest.New(t, "watch")
	peer := nstest.New(t, "wpeer")
	ns.Veth("eth0", 10, peer, "p0", 20)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := Watch(ctx, Options{NetNS: ns.Path()})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}

	s := waitFor(t, ch, "eth0 up with carrier", func(s Snapshot) bool {
		l, ok := linkNamed(s, "eth0")
		return ok && l.Up && l.Carrier
	})
	l, _ := linkNamed(s, "eth0")
	if l.Index != 10 || l.Kind != "veth" || l.Type != TypeVeth ||
		l.ARPType != arphrdEther {
		t.Errorf("unexpected eth0: %s (arptype %d)", l, l.ARPType)
	}
	lo, ok := linkNamed(s, "lo")
	if !ok || lo.Type != TypeLoopback || lo.Kind != "" {
		t.Errorf("unexpected lo: %s", lo)
	}

	net4 := netip.MustParsePrefix("10.77.0.0/24")
	ns.IP("addr", "add", "10.77.0.1/24", "dev", "eth0")
	waitFor(t, ch, "10.77.0.1 and its prefix route", func(s Snapshot) bool {
		_, ok := addrIn(s, net4)
		return ok && len(routesTo(s, 254, net4)) == 1
	})

	def4 := netip.MustParsePrefix("0.0.0.0/0")
	ns.IP("route", "add", "default", "via", "10.77.0.2", "dev", "eth0",
		"metric", "300", "table", "100")
	s = waitFor(t, ch, "a default route in table 100", func(s Snapshot) bool {
		return len(routesTo(s, 100, def4)) == 1
	})
	want := Route{Family: 4, Dst: def4, LinkIndex: 10, Metric: 300,
		Table: 100, Gateway: netip.MustParseAddr("10.77.0.2")}
	if got := routesTo(s, 100, def4)[0]; got != want {
		t.Errorf("unexpected default route: got %s, want %s", got, want)
	}

	t.Run("carrier", func(t *testing.T) {
		peer.IP("link", "set", "p0", "down")
		waitFor(t, ch, "no carrier, address kept, routes linkdown",
			func(s Snapshot) bool {
				l, _ := linkNamed(s, "eth0")
				_, kept := addrIn(s, net4)
				rs := routesTo(s, 100, def4)
				return l.Up && !l.Carrier && kept && len(rs) == 1 &&
					rs[0].Linkdown
			})

		peer.IP("link", "set", "p0", "up")
		waitFor(t, ch, "carrier back, routes not linkdown",
			func(s Snapshot) bool {
				l, _ := linkNamed(s, "eth0")
				rs := routesTo(s, 100, def4)
				return l.Carrier && len(rs) == 1 && !rs[0].Linkdown
			})
	})

	t.Run("dad", func(t *testing.T) {
		ns.Sysctl("net.ipv6.conf.eth0.dad_transmits", "3")
		net6 := netip.MustParsePrefix("2001:db8:77::1/64")
		ns.IP("addr", "add", net6.String(), "dev", "eth0")
		waitFor(t, ch, "a tentative address", func(s Snapshot) bool {
			a, ok := addrIn(s, net6)
			return ok && a.Flags&AddrTentative != 0
		})
		s := waitFor(t, ch, "the address after DAD", func(s Snapshot) bool {
			a, ok := addrIn(s, net6)
			return ok && a.Flags&AddrTentative == 0
		})
		if a, _ := addrIn(s, net6); a.Flags&AddrDADFailed != 0 ||
			a.ValidLft != Forever || a.Scope != 0 {
			t.Errorf("unexpected address after DAD: %s", a)
		}
	})

	t.Run("temporary", func(t *testing.T) {
		ns.Sysctl("net.ipv6.conf.eth0.use_tempaddr", "2")
		ns.Sysctl("net.ipv6.conf.eth0.accept_dad", "0")
		ns.IP("addr", "add", "2001:db8:78::1/64", "dev", "eth0",
			"mngtmpaddr", "valid_lft", "3600", "preferred_lft", "1800")
		pfx := netip.MustParsePrefix("2001:db8:78::/64")
		s := waitFor(t, ch, "a temporary address", func(s Snapshot) bool {
			return slices.ContainsFunc(s.Addrs, func(a Addr) bool {
				return pfx.Contains(a.Prefix.Addr()) &&
					a.Flags&AddrTemporary != 0
			})
		})
		a, _ := addrIn(s, netip.MustParsePrefix("2001:db8:78::1/128"))
		mng := slices.ContainsFunc(s.Addrs, func(a Addr) bool {
			return a.Prefix.Addr() == netip.MustParseAddr("2001:db8:78::1") &&
				a.Flags&AddrMngTmpAddr != 0 && a.ValidLft <= 3600
		})
		if !mng {
			t.Errorf("no mngtmpaddr address with finite lifetime: %s; snapshot:\n%s", a, s)
		}
	})

	t.Run("delete", func(t *testing.T) {
		ns.IP("link", "del", "eth0")
		s := waitFor(t, ch, "eth0 gone", func(s Snapshot) bool {
			_, ok := linkNamed(s, "eth0")
			return !ok
		})
		for _, a := range s.Addrs {
			if a.Index == 10 {
				t.Errorf("address of deleted link left: %s", a)
			}
		}
		for _, r := range s.Routes {
			if r.LinkIndex == 10 {
				t.Errorf("route of deleted link left: %s", r)
			}
		}
	})

	cancel()
	for range ch {
	}
}
