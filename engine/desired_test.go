package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

const (
	sub = pm.FlagSubflow
	bak = pm.FlagSubflow | pm.FlagBackup
)

// laptop is S1: eth0 (2) 192.0.2.10/24 and wlan0 (3) 198.51.100.20/24.
func laptop() *snap {
	return (&snap{}).link(2, "eth0", "ethernet").link(3, "wlan0", "wifi").
		addr(2, "192.0.2.10/24", 0).addr(3, "198.51.100.20/24", 0).
		route(2, "192.0.2.1", 100).route(3, "198.51.100.1", 600)
}

// whys maps each address to its rule or reason, as the status shows them.
func whys(choices []Choice) map[string]string {
	m := map[string]string{}
	for _, c := range choices {
		v := c.Why
		if c.Endpoint != nil {
			v = "rule " + c.Rule
		}
		k := c.Addr.String()
		if _, dup := m[k]; dup {
			k = fmt.Sprintf("%s on if%d", k, c.Ifindex)
		}
		m[k] = v
	}

	return m
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name  string
		snap  *snap
		d     policy
		want  []pm.Endpoint
		whys  map[string]string
		limit string
	}{
		{
			name: "S1 docked",
			snap: laptop(),
			want: []pm.Endpoint{
				ep("192.0.2.10", sub, 2), ep("198.51.100.20", bak, 3),
			},
			whys: map[string]string{
				"192.0.2.10":    "rule other",
				"198.51.100.20": "rule wifi-backup",
			},
			limit: "add_addr_accepted 2 subflows 4",
		},
		{
			name: "S2 undocked",
			snap: laptop().carrierOff(2),
			want: []pm.Endpoint{ep("198.51.100.20", sub, 3)},
			whys: map[string]string{
				"192.0.2.10":    "no carrier",
				"198.51.100.20": "rule wifi",
			},
			limit: "add_addr_accepted 2 subflows 3",
		},
		{
			name: "S10 forbidden eth0 still counts as an uplink",
			snap: laptop().addr(2, "192.0.2.11/24", 0),
			d:    policy{skip: []string{"eth0"}},
			want: []pm.Endpoint{ep("198.51.100.20", bak, 3)},
			whys: map[string]string{
				"192.0.2.10":    "skipped by rule no-eth0",
				"192.0.2.11":    "skipped by rule no-eth0",
				"198.51.100.20": "rule wifi-backup",
			},
			limit: "add_addr_accepted 2 subflows 3",
		},
		{
			name: "S16 phone",
			snap: (&snap{}).link(3, "wlan0", "wifi").link(4, "wwan0", "wwan").
				addr(3, "198.51.100.20/24", 0).addr(4, "100.64.0.2/30", 0).
				route(3, "198.51.100.1", 600).route(4, "100.64.0.1", 700),
			want: []pm.Endpoint{
				ep("198.51.100.20", sub, 3), ep("100.64.0.2", bak, 4),
			},
			whys: map[string]string{
				"198.51.100.20": "rule wifi",
				"100.64.0.2":    "rule cellular",
			},
			limit: "add_addr_accepted 2 subflows 4",
		},
		{
			name: "S7 router LAN side",
			snap: (&snap{}).link(3, "br-lan", "bridge").
				link(4, "wan0", "ethernet").link(5, "veth9", "veth").
				addr(3, "192.168.50.1/24", 0).addr(4, "203.0.113.2/30", 0).
				addr(5, "10.0.3.1/24", 0).route(4, "203.0.113.1", 0),
			want: []pm.Endpoint{ep("203.0.113.2", sub, 4)},
			whys: map[string]string{
				"192.168.50.1": "no default route for IPv4 via br-lan",
				"203.0.113.2":  "rule other",
				"10.0.3.1":     "no default route for IPv4 via veth9",
			},
			limit: "add_addr_accepted 2 subflows 3",
		},
		{
			name: "priority: backup last, type, metric, family, ifindex",
			snap: (&snap{}).link(9, "wwan0", "wwan").link(8, "wlan0", "wifi").
				link(7, "eth1", "ethernet").link(6, "eth0", "ethernet").
				link(5, "tun0", "tunnel").
				addr(9, "100.64.0.2/30", 0).addr(8, "198.51.100.20/24", 0).
				addr(7, "2001:db8:7::2/64", 0).addr(7, "192.0.2.70/24", 0).
				addr(6, "192.0.2.60/24", 0).addr(5, "10.8.0.2/24", 0).
				route(9, "100.64.0.1", 1).route(8, "198.51.100.1", 1).
				route(7, "2001:db8:7::1", 5).route(7, "192.0.2.1", 5).
				route(6, "192.0.2.1", 5).route(5, "10.8.0.1", 1),
			d: policy{flags: map[string]pm.Flags{"wifi": sub}},
			want: []pm.Endpoint{
				ep("192.0.2.60", sub, 6), ep("192.0.2.70", sub, 7),
				ep("2001:db8:7::2", sub, 7), ep("10.8.0.2", sub, 5),
				ep("198.51.100.20", sub, 8), ep("100.64.0.2", bak, 9),
			},
			whys: map[string]string{
				"100.64.0.2":    "rule cellular",
				"198.51.100.20": "rule user-wifi",
				"2001:db8:7::2": "rule other",
				"192.0.2.70":    "rule other",
				"192.0.2.60":    "rule other",
				"10.8.0.2":      "rule other",
			},
			limit: "add_addr_accepted 2 subflows 8",
		},
		{
			name: "priority: no default route after any metric",
			snap: (&snap{}).link(2, "eth0", "ethernet").
				link(3, "eth1", "ethernet").
				addr(2, "192.0.2.20/24", 0).addr(3, "198.51.100.30/24", 0).
				route(3, "198.51.100.1", 1000),
			d: policy{settings: rules.Settings{
				Hygiene: rules.Hygiene{AllowNoDefaultRoute: true}}},
			want: []pm.Endpoint{
				ep("198.51.100.30", sub, 3), ep("192.0.2.20", sub, 2),
			},
			whys: map[string]string{
				"192.0.2.20":    "rule other",
				"198.51.100.30": "rule other",
			},
			limit: "add_addr_accepted 2 subflows 4",
		},
		{
			name: "one address on two links gets one endpoint",
			snap: (&snap{}).link(2, "eth0", "ethernet").link(3, "eth1", "ethernet").
				addr(3, "192.0.2.10/24", 0).addr(2, "192.0.2.10/24", 0).
				route(2, "192.0.2.1", 5).route(3, "192.0.2.1", 5),
			want: []pm.Endpoint{ep("192.0.2.10", sub, 2)},
			whys: map[string]string{
				"192.0.2.10":        "address already has an endpoint on if2",
				"192.0.2.10 on if2": "rule other",
			},
			limit: "add_addr_accepted 2 subflows 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.d.settings.Types = []rules.TypeOverride{}
			choices, got := Choose(Facts(tt.snap.get(), tt.d.settings), tt.d)
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("unexpected endpoints (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.whys, whys(choices)); diff != "" {
				t.Errorf("unexpected reasons (-want +got):\n%s", diff)
			}
			l, _ := AutoLimits(got)
			if diff := cmp.Diff(tt.limit, l.String()); diff != "" {
				t.Errorf("unexpected limits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChooseS15Cap(t *testing.T) {
	s := &snap{}
	for i := range 10 {
		idx := 10 + i
		s.link(idx, fmt.Sprintf("eth%d", i), "ethernet").
			addr(idx, fmt.Sprintf("198.18.%d.2/24", i), 0).
			route(idx, fmt.Sprintf("198.18.%d.1", i), 100+i)
	}

	_, got := Choose(Facts(s.get(), rules.Settings{}), policy{})
	var addrs []string
	for _, e := range got {
		addrs = append(addrs, e.Addr.String())
	}
	want := []string{
		"198.18.0.2", "198.18.1.2", "198.18.2.2", "198.18.3.2",
		"198.18.4.2", "198.18.5.2", "198.18.6.2", "198.18.7.2",
		"198.18.8.2", "198.18.9.2",
	}
	if diff := cmp.Diff(want, addrs); diff != "" {
		t.Errorf("unexpected priority order (-want +got):\n%s", diff)
	}
	l, _ := AutoLimits(got[:pm.MaxEndpoints])
	if got := l.String(); got != "add_addr_accepted 2 subflows 8" {
		t.Errorf("unexpected limits: want 8/2, got %s", got)
	}
}

func TestStale(t *testing.T) {
	s := laptop().carrierOff(2).addr(2, "192.0.2.12/24", 0).get()
	choices, _ := Choose(Facts(s, rules.Settings{}),
		policy{skip: []string{"nothing"}})
	ours := map[string]bool{"192.0.2.10": true, "10.9.9.9": true}
	isOurs := func(k pm.Key) bool { return ours[k.Addr.String()] }

	tests := []struct {
		name      string
		e         pm.Endpoint
		manageAll bool
		want      string
	}{
		{"S11 address on no link", ep("10.9.9.8", sub, 0), false, "address gone"},
		{"S11 gone interface", ep("192.0.2.99", sub, 99), false, "interface if99 gone"},
		{"S11 foreign signal for a NAT address", ep("203.0.113.200", pm.FlagSignal, 0), false, ""},
		{"foreign signal for a NAT address, bound to a link",
			ep("203.0.113.200", pm.FlagSignal, 3), false, ""},
		{"foreign signal for a NAT address, manage all",
			ep("203.0.113.200", pm.FlagSignal, 0), true, "address gone"},
		{"S4 ours, signal, address gone",
			ep("10.9.9.9", pm.FlagSignal, 3), false, "address gone"},
		{"ours, signal, address gone, no link",
			ep("10.9.9.9", pm.FlagSignal, 0), false, "address gone"},
		{"foreign, address moved to another link",
			ep("198.51.100.20", sub, 2), false, "address no longer on if2"},
		{"foreign signal, address moved to another link",
			ep("198.51.100.20", pm.FlagSignal, 2), false,
			"address no longer on if2"},
		{"ours, address moved to another link",
			ep("192.0.2.10", sub, 3), false, "address no longer on if3"},
		{"foreign, address still on its link",
			ep("198.51.100.20", sub, 3), false, ""},
		{"signal on a gone interface", ep("203.0.113.200", pm.FlagSignal, 99), false, "interface if99 gone"},
		{"S4 implicit endpoint of a gone address", ep("10.9.9.7", pm.FlagImplicit, 0), false, "address gone"},
		{"S2 ours, no carrier", ep("192.0.2.10", sub, 2), false, "no carrier"},
		{"foreign, no carrier", ep("192.0.2.12", sub, 2), false, ""},
		{"foreign, no carrier, manage all", ep("192.0.2.12", sub, 2), true, "no carrier"},
		{"foreign implicit of a live address", ep("192.0.2.12", pm.FlagImplicit, 0), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStaleness(s, choices, isOurs, tt.manageAll)
			if got := st.Reason(tt.e); got != tt.want {
				t.Errorf("unexpected reason for %s: want %q, got %q", tt.e, tt.want, got)
			}
			if got := st.Stale(tt.e); got != (tt.want != "") {
				t.Errorf("unexpected Stale(%s): %v", tt.e, got)
			}
		})
	}
}

func TestAutoLimits(t *testing.T) {
	nat := ep("203.0.113.200", pm.FlagSignal, 0)
	fm := ep("192.0.2.20", sub|pm.FlagFullmesh, 2)
	tests := []struct {
		name  string
		table []pm.Endpoint
		want  pm.Limits
	}{
		{"empty (S8)", nil, pm.Limits{Subflows: 2}},
		{"implicit only", []pm.Endpoint{ep("10.0.0.1", pm.FlagImplicit, 0)},
			pm.Limits{Subflows: 2}},
		{"one subflow (S2)", []pm.Endpoint{ep("192.0.2.10", sub, 2)},
			pm.Limits{Subflows: 3, AddAddrAccepted: 2}},
		{"S11", []pm.Endpoint{ep("192.0.2.10", sub, 2), nat},
			pm.Limits{Subflows: 5, AddAddrAccepted: 2}},
		{"signal only", []pm.Endpoint{nat}, pm.Limits{Subflows: 2}},
		{"two signal", []pm.Endpoint{nat, ep("203.0.113.201", pm.FlagSignal, 0)},
			pm.Limits{Subflows: 4}},
		{"fullmesh", []pm.Endpoint{fm, ep("192.0.2.21", sub|pm.FlagFullmesh, 3)},
			pm.Limits{Subflows: 6, AddAddrAccepted: 2}},
		{"capped", []pm.Endpoint{fm, fm, fm, fm, fm},
			pm.Limits{Subflows: 8, AddAddrAccepted: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := AutoLimits(tt.table)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected limits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWantLimits(t *testing.T) {
	table := []pm.Endpoint{ep("192.0.2.10", sub, 2)}
	set := rules.LimitsSetting{
		Subflows:        rules.Limit{Mode: rules.LimitFixed, Value: 7},
		AddAddrAccepted: rules.Limit{Mode: rules.LimitKeep},
	}
	s, a, how := wantLimits(set, table)
	if s == nil || *s != 7 || a != nil {
		t.Errorf("unexpected limits: subflows %v, add_addr_accepted %v", s, a)
	}
	if want := "subflows fixed 7; add_addr_accepted keep"; how != want {
		t.Errorf("unexpected explanation: want %q, got %q", want, how)
	}

	s, a, _ = wantLimits(rules.LimitsSetting{}, table)
	if s == nil || *s != 3 || a == nil || *a != 2 {
		t.Errorf("unexpected auto limits: %v %v", s, a)
	}
}

func TestOwnedPersists(t *testing.T) {
	path := OwnedPath(t.TempDir(), 4026531840)
	o, err := LoadOwned(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := []pm.Key{
		{Addr: netip.MustParseAddr("198.51.100.20")},
		{Addr: netip.MustParseAddr("192.0.2.10"), Port: 5000},
	}
	if changed, err := o.Set(keys); err != nil || !changed {
		t.Fatalf("Set: changed %v, err %v", changed, err)
	}
	if changed, err := o.Set(keys[:1:1]); err != nil || !changed {
		t.Fatalf("Set: changed %v, err %v", changed, err)
	}
	if changed, _ := o.Set(keys[:1]); changed {
		t.Errorf("Set of the same keys reported a change")
	}

	again, err := LoadOwned(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keys[:1], again.Keys(), addrCmp); diff != "" {
		t.Errorf("unexpected keys after reload (-want +got):\n%s", diff)
	}
}

// TestChooseWithRules runs the scenarios through the real rules: the
// embedded defaults after a user file, with the type overrides the
// scenarios use (links detected as veth named wlan0 and wwan0).
func TestChooseWithRules(t *testing.T) {
	set, err := rules.Parse("rules.toml", []byte(`
[[settings.type]]
match = "wlan*"
type = "wifi"

[[settings.type]]
match = "wwan*"
type = "wwan"

[[rule]]
name = "no-eth9"
when = 'link.name == "eth9"'
skip = true
`))
	if err != nil {
		t.Fatal(err)
	}

	veth := func(s *snap) *snap {
		for i := range s.Links {
			s.Links[i].Type = "veth"
		}
		return s
	}
	tests := []struct {
		name string
		snap *snap
		want []pm.Endpoint
	}{
		{"S1", veth(laptop()), []pm.Endpoint{
			ep("192.0.2.10", sub, 2), ep("198.51.100.20", bak, 3),
		}},
		{"S2", veth(laptop().carrierOff(2)), []pm.Endpoint{
			ep("198.51.100.20", sub, 3),
		}},
		{"S10", veth((&snap{}).link(9, "eth9", "ethernet").
			link(3, "wlan0", "wifi").
			addr(9, "192.0.2.10/24", 0).addr(3, "198.51.100.20/24", 0).
			route(9, "192.0.2.1", 100).route(3, "198.51.100.1", 600)),
			[]pm.Endpoint{ep("198.51.100.20", bak, 3)},
		},
		{"S16", veth((&snap{}).link(3, "wlan0", "wifi").
			link(4, "wwan0", "wwan").
			addr(3, "198.51.100.20/24", 0).addr(4, "100.64.0.2/30", 0).
			route(3, "198.51.100.1", 600).route(4, "100.64.0.1", 700)),
			[]pm.Endpoint{
				ep("198.51.100.20", sub, 3), ep("100.64.0.2", bak, 4),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := Choose(Facts(tt.snap.get(), set.Settings()), set)
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("unexpected endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

// failingDecider fails the first rule and lets a later one decide, as
// rules.Set does for an expression that errs at run time.
type failingDecider struct{}

func (failingDecider) Decide(*rules.Env) (rules.Decision, error) {
	return rules.Decision{Rule: "other", Flags: pm.FlagSubflow},
		errors.New(`evaluating rule "broken": index out of range`)
}

func (failingDecider) Settings() rules.Settings { return rules.Settings{} }

func (failingDecider) UsesMPTCP() bool { return false }

func TestChooseRuleErrorFallsThrough(t *testing.T) {
	f := Fact{Addr: netip.MustParseAddr("192.0.2.10"), Ifindex: 10}
	c := choose(f, failingDecider{})
	if c.Endpoint == nil || c.Rule != "other" {
		t.Fatalf("a failing rule took the endpoint away: %+v", c)
	}
	if !strings.Contains(c.RuleError, "broken") {
		t.Fatalf("RuleError = %q, want the failing rule named", c.RuleError)
	}
}
