package watchers

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	eth0 = Link{Index: 2, Name: "eth0", Kind: "veth", Type: TypeVeth,
		Up: true, Carrier: true, OperState: "up", MTU: 1500}
	wlan0 = Link{Index: 3, Name: "wlan0", Type: TypeWifi, Up: true,
		Carrier: true, OperState: "up", MTU: 1500}
	a4 = Addr{Index: 2, Prefix: netip.MustParsePrefix("10.0.0.1/24"),
		Flags: AddrPermanent, PreferredLft: Forever, ValidLft: Forever}
	a6 = Addr{Index: 3, Prefix: netip.MustParsePrefix("2001:db8::1/64"),
		Flags: AddrTentative, PreferredLft: Forever, ValidLft: Forever}
	def4 = Route{Family: 4, Dst: netip.MustParsePrefix("0.0.0.0/0"),
		LinkIndex: 2, Gateway: netip.MustParseAddr("10.0.0.254"),
		Table: 254}
	def4b = Route{Family: 4, Dst: netip.MustParsePrefix("0.0.0.0/0"),
		LinkIndex: 3, Gateway: netip.MustParseAddr("10.1.0.254"),
		Table: 254}
	def6 = Route{Family: 6, Dst: netip.MustParsePrefix("::/0"),
		LinkIndex: 3, Gateway: netip.MustParseAddr("fe80::1"),
		Metric: 1024, Table: 100}
)

// TestState feeds decoded updates to a state one step after another and
// compares the snapshot after each step.
func TestState(t *testing.T) {
	s := newState()
	steps := []struct {
		name  string
		apply func() bool
		stale bool // routes must be dumped again
		want  string
	}{
		{
			name:  "dump",
			apply: func() bool { s.reset([]Link{eth0}, []Addr{a4}, []Route{def4}); return false },
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"route table 254 default4 via 10.0.0.254 dev 2 metric 0\n",
		},
		{
			name:  "address before its link is hidden",
			apply: func() bool { s.setAddr(a6); return false },
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"route table 254 default4 via 10.0.0.254 dev 2 metric 0\n",
		},
		{
			name:  "new link",
			apply: func() bool { return s.setLink(wlan0) },
			stale: true,
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"link 3 wlan0 type wifi up carrier operstate up mtu 1500\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"addr 3 2001:db8::1/64 scope 0 tentative lft forever forever\n" +
				"route table 254 default4 via 10.0.0.254 dev 2 metric 0\n",
		},
		{
			name: "DAD done, MTU changed",
			apply: func() bool {
				a := a6
				a.Flags = 0
				s.setAddr(a)
				l := wlan0
				l.MTU = 1400
				return s.setLink(l)
			},
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"link 3 wlan0 type wifi up carrier operstate up mtu 1400\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"addr 3 2001:db8::1/64 scope 0 lft forever forever\n" +
				"route table 254 default4 via 10.0.0.254 dev 2 metric 0\n",
		},
		{
			name: "routes: multipath, other table",
			apply: func() bool {
				s.addRoute([]Route{def4, def4b}, true)
				s.addRoute([]Route{def6}, false)
				return false
			},
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"link 3 wlan0 type wifi up carrier operstate up mtu 1400\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"addr 3 2001:db8::1/64 scope 0 lft forever forever\n" +
				"route table 100 default6 via fe80::1 dev 3 metric 1024\n" +
				"route table 254 default4 via 10.0.0.254 dev 2 metric 0\n" +
				"route table 254 default4 via 10.1.0.254 dev 3 metric 0\n",
		},
		{
			name:  "replace keeps one hop",
			apply: func() bool { s.addRoute([]Route{def4b}, true); return false },
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"link 3 wlan0 type wifi up carrier operstate up mtu 1400\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"addr 3 2001:db8::1/64 scope 0 lft forever forever\n" +
				"route table 100 default6 via fe80::1 dev 3 metric 1024\n" +
				"route table 254 default4 via 10.1.0.254 dev 3 metric 0\n",
		},
		{
			name: "carrier lost",
			apply: func() bool {
				l := wlan0
				l.Carrier = false
				return s.setLink(l)
			},
			stale: true,
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"link 3 wlan0 type wifi up operstate up mtu 1500\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n" +
				"addr 3 2001:db8::1/64 scope 0 lft forever forever\n" +
				"route table 100 default6 via fe80::1 dev 3 metric 1024\n" +
				"route table 254 default4 via 10.1.0.254 dev 3 metric 0\n",
		},
		{
			name:  "link deleted with its addresses and routes",
			apply: func() bool { s.delLink(3); return false },
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n" +
				"addr 2 10.0.0.1/24 scope 0 permanent lft forever forever\n",
		},
		{
			name: "address and route deleted",
			apply: func() bool {
				s.delAddr(a4)
				s.addRoute([]Route{def4}, false)
				s.delRoute([]Route{def4})
				return false
			},
			want: "link 2 eth0 kind veth type veth up carrier operstate up mtu 1500\n",
		},
	}
	for i, st := range steps {
		stale := st.apply()
		if stale != st.stale {
			t.Errorf("step %q: routes stale = %v, want %v", st.name, stale, st.stale)
		}
		got := s.snapshot(uint64(i), time.Time{})
		if diff := cmp.Diff(st.want, got.String()); diff != "" {
			t.Errorf("step %q: unexpected snapshot (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestStateSetRoutes checks that a route dump replaces every route.
func TestStateSetRoutes(t *testing.T) {
	s := newState()
	s.reset([]Link{eth0, wlan0}, nil, []Route{def4, def4b, def6})

	down := def6
	down.Linkdown = true
	s.setRoutes([]Route{down})

	want := Snapshot{Seq: 7, Links: []Link{eth0, wlan0}, Routes: []Route{down}}
	if diff := cmp.Diff(want, s.snapshot(7, time.Time{}),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("unexpected snapshot (-want +got):\n%s", diff)
	}
}
