package engine

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// reasons maps every address of facts to why it is not eligible ("" when
// it is).
func reasons(facts []Fact) map[string]string {
	m := map[string]string{}
	for _, f := range facts {
		m[f.Addr.String()] = f.Reason
	}

	return m
}

func TestFactsEligibility(t *testing.T) {
	s6 := (&snap{}).link(2, "eth0", "ethernet").
		addr(2, "192.0.2.10/24", 0).
		addr(2, "fe80::10/64", 0).
		addr(2, "fd00:1::10/64", 0).
		addr(2, "2001:db8:1::10/64", watchers.AddrMngTmpAddr).
		addr(2, "2001:db8:1::77/64", watchers.AddrTemporary).
		addr(2, "2001:db8:1::dead/64", watchers.AddrDeprecated).
		route(2, "192.0.2.1", 100).route(2, "2001:db8:1::1", 100)

	tests := []struct {
		name string
		snap *snap
		set  rules.Settings
		want map[string]string
	}{
		{
			name: "S6 hygiene",
			snap: s6,
			want: map[string]string{
				"192.0.2.10":       "",
				"fe80::10":         "link-local",
				"fd00:1::10":       "ula",
				"2001:db8:1::10":   "",
				"2001:db8:1::77":   "temporary",
				"2001:db8:1::dead": "deprecated",
			},
		},
		{
			name: "S6 hygiene relaxed",
			snap: s6,
			set: rules.Settings{Hygiene: rules.Hygiene{
				AllowLinkLocal: true, AllowULA: true,
				AllowTemporary: true, AllowDeprecated: true,
			}},
			want: map[string]string{
				"192.0.2.10":       "",
				"fe80::10":         "",
				"fd00:1::10":       "",
				"2001:db8:1::10":   "",
				"2001:db8:1::77":   "",
				"2001:db8:1::dead": "",
			},
		},
		{
			name: "readiness is never relaxed",
			snap: (&snap{}).link(2, "eth0", "ethernet").
				link(3, "eth1", "ethernet").
				addr(2, "2001:db8:2::7/64", watchers.AddrTentative).
				addr(2, "2001:db8:2::8/64", watchers.AddrDADFailed|watchers.AddrTentative).
				addr(3, "192.0.2.10/24", 0).
				route(2, "2001:db8:2::1", 1).route(3, "192.0.2.1", 1).
				carrierOff(3),
			set: rules.Settings{Hygiene: rules.Hygiene{
				AllowLoopback: true, AllowLinkLocal: true, AllowULA: true,
				AllowTemporary: true, AllowDeprecated: true,
				AllowNoDefaultRoute: true,
			}},
			want: map[string]string{
				"2001:db8:2::7": "tentative",
				"2001:db8:2::8": "dad failed",
				"192.0.2.10":    "no carrier",
			},
		},
		{
			// IFA_F_SECONDARY is IFA_F_TEMPORARY's bit.
			name: "an IPv4 secondary address is not temporary",
			snap: (&snap{}).link(2, "eth0", "ethernet").
				addr(2, "192.0.2.10/24", 0).
				addr(2, "192.0.2.11/24", watchers.AddrTemporary).
				route(2, "192.0.2.1", 1),
			want: map[string]string{"192.0.2.10": "", "192.0.2.11": ""},
		},
		{
			name: "S2 carrier-off names the carrier, not the linkdown route",
			snap: (&snap{}).link(2, "eth0", "ethernet").
				addr(2, "192.0.2.10/24", 0).route(2, "192.0.2.1", 1).
				carrierOff(2),
			want: map[string]string{"192.0.2.10": "no carrier"},
		},
		{
			name: "carrier back while the route still shows linkdown",
			snap: func() *snap {
				s := (&snap{}).link(2, "eth0", "ethernet").
					addr(2, "192.0.2.10/24", 0).route(2, "192.0.2.1", 1)
				s.Routes[0].Linkdown = true
				return s
			}(),
			want: map[string]string{"192.0.2.10": ""},
		},
		{
			name: "S7 router LAN side and loopback",
			snap: (&snap{}).link(1, "lo", "loopback").
				link(3, "br-lan", "bridge").link(4, "wan0", "ethernet").
				addr(1, "127.0.0.1/8", 0).addr(1, "::1/128", 0).
				addr(3, "192.168.50.1/24", 0).
				addr(4, "203.0.113.2/30", 0).
				addr(4, "2001:db8:9::2/64", 0).
				route(4, "203.0.113.1", 0),
			want: map[string]string{
				"127.0.0.1":     "loopback",
				"::1":           "loopback",
				"192.168.50.1":  "no default route for IPv4 via br-lan",
				"203.0.113.2":   "",
				"2001:db8:9::2": "no default route for IPv6 via wan0",
			},
		},
		{
			name: "link down",
			snap: func() *snap {
				s := (&snap{}).link(2, "eth0", "ethernet").
					addr(2, "192.0.2.10/24", 0).route(2, "192.0.2.1", 1)
				s.Links[0].Up = false
				return s
			}(),
			want: map[string]string{"192.0.2.10": "link down"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reasons(Facts(tt.snap.get(), tt.set))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFactsEnv(t *testing.T) {
	s := (&snap{}).link(2, "eth0", "ethernet").link(3, "wlp2s0", "wifi").
		link(4, "br0", "bridge").
		addr(2, "192.0.2.10/24", 0).
		addr(3, "198.51.100.20/24", 0).
		route(3, "198.51.100.1", 600).
		route(3, "198.51.100.254", 50).
		route(2, "192.0.2.1", 100).
		get()
	s.Links[0].Master = 4
	s.Routes[1].Table = 100 // a default route in another table counts
	s.Addrs[1].PreferredLft = 3600
	s.Addrs[1].ValidLft = 7200
	set := rules.Settings{Types: []rules.TypeOverride{
		{Glob: "wlp*", Type: "wwan"}, {Glob: "wl*", Type: "wifi"},
	}}

	facts := Facts(s, set)
	uplinks := []rules.Uplink{
		{Name: "eth0", Type: "ethernet", Family: 4},
		{Name: "wlp2s0", Type: "wwan", Family: 4},
	}
	want := rules.Env{
		Link: rules.Link{Name: "wlp2s0", Index: 3, Type: "wwan", Up: true,
			Carrier: true, OperState: "up", MTU: 1500},
		Addr: rules.Addr{IP: "198.51.100.20", Family: 4, PrefixLen: 24,
			Scope: "global", PreferredLft: 3600, ValidLft: 7200,
			Eligible: true},
		Route: rules.Route{Default: true, Metric: 50,
			Gateway: "198.51.100.254"},
		Host: rules.Host{Uplinks: uplinks},
	}
	if diff := cmp.Diff(want, facts[1].Env); diff != "" {
		t.Errorf("unexpected env (-want +got):\n%s", diff)
	}
	if got := facts[0].Env.Link.Master; got != "br0" {
		t.Errorf("unexpected master: want br0, got %q", got)
	}
	if got := facts[0].Env.Addr.PreferredLft; got != -1 {
		t.Errorf("unexpected preferred_lft of a permanent address: want -1, got %d", got)
	}
}

func TestUplinksIgnoreRules(t *testing.T) {
	s := (&snap{}).link(5, "wlan0", "wifi").link(2, "eth0", "ethernet").
		addr(5, "198.51.100.20/24", 0).addr(5, "2001:db8:5::2/64", 0).
		addr(2, "192.0.2.10/24", 0).addr(2, "192.0.2.11/24", 0).
		addr(2, "2001:db8:2::2/64", 0). // no IPv6 default route on eth0
		route(5, "198.51.100.1", 600).route(5, "2001:db8:5::1", 600).
		route(2, "192.0.2.1", 100).get()

	got := Uplinks(Facts(s, rules.Settings{}))
	want := []rules.Uplink{
		{Name: "eth0", Type: "ethernet", Family: 4},
		{Name: "wlan0", Type: "wifi", Family: 4},
		{Name: "wlan0", Type: "wifi", Family: 6},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected uplinks (-want +got):\n%s", diff)
	}
}

func TestFactsSubflows(t *testing.T) {
	s := laptop().addr(2, "198.51.100.20/24", 0).get()
	s.MPTCP.Subflows = map[watchersKey]watchersCount{
		{Addr: netip.MustParseAddr("192.0.2.10"), Ifindex: 2}: {
			Established: 2, Closed: 3, Failed: 1},
		// An event that named no link counts for the address on any.
		{Addr: netip.MustParseAddr("192.0.2.10")}: {Established: 1},
		{Addr: netip.MustParseAddr("198.51.100.20"), Ifindex: 3}: {
			Established: 1, Closed: 4, Failed: 4},
	}

	type counts struct{ Subflows, Failed int }
	got := map[string]counts{}
	for _, f := range Facts(s, rules.Settings{}) {
		got[fmt.Sprintf("%s on if%d", f.Addr, f.Ifindex)] = counts{
			f.Env.Addr.Subflows, f.Env.Addr.SubflowsFailed}
	}
	want := map[string]counts{
		"192.0.2.10 on if2":    {3, 1},
		"198.51.100.20 on if3": {1, 4},
		"198.51.100.20 on if2": {0, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected subflow facts (-want +got):\n%s", diff)
	}
}
