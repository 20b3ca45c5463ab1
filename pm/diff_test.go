package pm_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// parseEndpoint reads an endpoint in the shape `ip mptcp endpoint show`
// prints, devices as ifN: "192.0.2.1 port 80 id 3 signal backup dev if2".
func parseEndpoint(t testing.TB, s string) pm.Endpoint {
	t.Helper()
	f := strings.Fields(s)
	e := pm.Endpoint{Addr: netip.MustParseAddr(f[0])}
	for i := 1; i < len(f); i++ {
		switch f[i] {
		case "port", "id", "dev":
			n, err := strconv.Atoi(strings.TrimPrefix(f[i+1], "if"))
			if err != nil {
				t.Fatalf("parsing %q: %v", s, err)
			}
			switch f[i] {
			case "port":
				e.Port = uint16(n)
			case "id":
				e.ID = uint8(n)
			case "dev":
				e.Ifindex = int32(n)
			}
			i++
		default:
			flag, err := pm.ParseFlag(f[i])
			if err != nil {
				t.Fatalf("parsing %q: %v", s, err)
			}
			e.Flags |= flag
		}
	}

	return e
}

func parseEndpoints(t testing.TB, lines ...string) []pm.Endpoint {
	t.Helper()
	var eps []pm.Endpoint
	for _, l := range lines {
		eps = append(eps, parseEndpoint(t, l))
	}

	return eps
}

func formatEndpoints(eps []pm.Endpoint) []string {
	var s []string
	for _, e := range eps {
		s = append(s, e.String())
	}

	return s
}

func formatOps(ops []pm.Op) []string {
	var s []string
	for _, o := range ops {
		s = append(s, o.String())
	}

	return s
}

// plain returns n endpoints 10.9.0.1 id 1, 10.9.0.2 id 2... with flags.
func plain(n int, flags string) []string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, strings.TrimSpace(fmt.Sprintf("10.9.0.%d id %d %s", i, i, flags)))
	}

	return s
}

func staleIf(prefix string) func(pm.Endpoint) bool {
	return func(e pm.Endpoint) bool {
		return strings.HasPrefix(e.Addr.String(), prefix)
	}
}

func u32(v uint32) *uint32 { return &v }

func TestDiff(t *testing.T) {
	defaultLimits := pm.Limits{Subflows: 2}
	tests := []struct {
		name        string
		table       []string
		limits      pm.Limits
		want        []string
		stale       func(pm.Endpoint) bool
		unsupported pm.Flags
		wantLimits  *pm.LimitsWant
		wantOps     []string
		wantLeftOut []string
		wantTable   []string
		wantLimit   pm.Limits
	}{{
		name: "empty",
	}, {
		name:      "in place already",
		table:     []string{"10.0.0.1 id 4 subflow dev if2", "10.0.0.2 port 80 id 9 signal"},
		want:      []string{"10.0.0.2 port 80 signal", "10.0.0.1 id 77 subflow dev if2"},
		wantTable: []string{"10.0.0.1 id 4 subflow dev if2", "10.0.0.2 port 80 id 9 signal"},
	}, {
		name:      "add",
		want:      []string{"10.0.0.1 subflow dev if2"},
		wantOps:   []string{"add 10.0.0.1 subflow dev if2"},
		wantTable: []string{"10.0.0.1 id 0 subflow dev if2"},
	}, {
		name:      "backup changes in place and keeps the id",
		table:     []string{"10.0.0.1 id 7 subflow backup dev if2"},
		want:      []string{"10.0.0.1 subflow dev if2"},
		wantOps:   []string{"change 10.0.0.1 id 7 nobackup"},
		wantTable: []string{"10.0.0.1 id 7 subflow dev if2"},
	}, {
		name:      "backup and fullmesh in one change",
		table:     []string{"10.0.0.1 id 7 subflow dev if2"},
		want:      []string{"10.0.0.1 subflow backup fullmesh dev if2"},
		wantOps:   []string{"change 10.0.0.1 id 7 backup fullmesh"},
		wantTable: []string{"10.0.0.1 id 7 subflow backup fullmesh dev if2"},
	}, {
		name:      "role change deletes then adds",
		table:     []string{"10.0.0.1 id 7 subflow backup dev if2"},
		want:      []string{"10.0.0.1 signal dev if2"},
		wantOps:   []string{"delete 10.0.0.1 id 7", "add 10.0.0.1 signal dev if2"},
		wantTable: []string{"10.0.0.1 id 0 signal dev if2"},
	}, {
		name:      "device change deletes then adds",
		table:     []string{"10.0.0.1 id 7 subflow backup dev if2"},
		want:      []string{"10.0.0.1 subflow dev if3"},
		wantOps:   []string{"delete 10.0.0.1 id 7", "add 10.0.0.1 subflow dev if3"},
		wantTable: []string{"10.0.0.1 id 0 subflow dev if3"},
	}, {
		name:      "foreign endpoints kept without Stale",
		table:     []string{"10.0.0.1 id 1 subflow", "10.8.0.1 id 2 signal"},
		want:      []string{"10.0.0.2 subflow"},
		wantOps:   []string{"add 10.0.0.2 subflow"},
		wantTable: []string{"10.0.0.1 id 1 subflow", "10.8.0.1 id 2 signal", "10.0.0.2 id 0 subflow"},
	}, {
		name:      "adds before deletes",
		table:     []string{"10.0.0.1 id 1 subflow", "10.8.0.1 id 2 signal"},
		stale:     staleIf("10.0."),
		want:      []string{"10.0.0.2 subflow"},
		wantOps:   []string{"add 10.0.0.2 subflow", "delete 10.0.0.1 id 1"},
		wantTable: []string{"10.8.0.1 id 2 signal", "10.0.0.2 id 0 subflow"},
	}, {
		name:      "port tells signal endpoints apart",
		table:     []string{"10.0.0.1 id 1 subflow", "10.0.0.1 port 80 id 2 signal"},
		stale:     staleIf("10."),
		want:      []string{"10.0.0.1 port 81 signal", "10.0.0.1 subflow"},
		wantOps:   []string{"add 10.0.0.1 port 81 signal", "delete 10.0.0.1 port 80 id 2"},
		wantTable: []string{"10.0.0.1 id 1 subflow", "10.0.0.1 port 81 id 0 signal"},
	}, {
		name:        "unsupported flags are planned without",
		table:       []string{"10.0.0.1 id 3 signal dev if2"},
		unsupported: pm.FlagLaminar,
		want:        []string{"10.0.0.1 signal laminar dev if2", "10.0.0.2 signal laminar"},
		wantOps:     []string{"add 10.0.0.2 signal"},
		wantTable:   []string{"10.0.0.1 id 3 signal dev if2", "10.0.0.2 id 0 signal"},
	}, {
		name:        "unsupported flags kept if the kernel has them",
		table:       []string{"10.0.0.1 id 3 subflow laminar", "10.0.0.2 id 4 subflow laminar"},
		unsupported: pm.FlagLaminar,
		want:        []string{"10.0.0.1 subflow laminar", "10.0.0.2 subflow backup"},
		wantOps:     []string{"change 10.0.0.2 id 4 backup"},
		wantTable:   []string{"10.0.0.1 id 3 subflow laminar", "10.0.0.2 id 4 subflow backup laminar"},
	}, {
		name:      "a flag missing from the kernel is replaced",
		table:     []string{"10.0.0.1 id 3 signal dev if2"},
		want:      []string{"10.0.0.1 signal laminar dev if2"},
		wantOps:   []string{"delete 10.0.0.1 id 3", "add 10.0.0.1 signal laminar dev if2"},
		wantTable: []string{"10.0.0.1 id 0 signal laminar dev if2"},
	}, {
		name:      "implicit replaced by an add keeping its id",
		table:     []string{"10.0.0.1 id 3 implicit"},
		want:      []string{"10.0.0.1 subflow dev if2"},
		wantOps:   []string{"add 10.0.0.1 subflow dev if2"},
		wantTable: []string{"10.0.0.1 id 3 subflow dev if2"},
	}, {
		name:      "implicit at the cap deleted first",
		table:     append(plain(7, "subflow"), "10.0.0.1 id 8 implicit"),
		want:      append(plain(7, "subflow"), "10.0.0.1 subflow"),
		wantOps:   []string{"delete 10.0.0.1 id 8", "add 10.0.0.1 subflow"},
		wantTable: append(plain(7, "subflow"), "10.0.0.1 id 0 subflow"),
	}, {
		name:      "implicit at the cap replaced after a stale delete",
		table:     append(plain(7, "subflow"), "10.0.0.1 id 8 implicit"),
		stale:     staleIf("10.9.0.7"),
		want:      append(plain(6, "subflow"), "10.0.0.1 subflow"),
		wantOps:   []string{"delete 10.9.0.7 id 7", "add 10.0.0.1 subflow"},
		wantTable: append(plain(6, "subflow"), "10.0.0.1 id 8 subflow"),
	}, {
		name:      "stale implicit deleted",
		table:     []string{"10.0.0.1 id 3 implicit"},
		stale:     func(e pm.Endpoint) bool { return e.Flags.Has(pm.FlagImplicit) },
		wantOps:   []string{"delete 10.0.0.1 id 3"},
		wantTable: nil,
	}, {
		name:      "full table frees a slot before the add",
		table:     plain(8, ""),
		stale:     staleIf("10.9.0.3"),
		want:      append(plain(2, ""), "10.0.0.1 subflow"),
		wantOps:   []string{"delete 10.9.0.3 id 3", "add 10.0.0.1 subflow"},
		wantTable: append(append(plain(2, ""), plain(8, "")[3:]...), "10.0.0.1 id 0 subflow"),
	}, {
		name:  "swap at the cap: one slot freed per add, the rest after",
		table: plain(8, ""),
		stale: staleIf("10.9."),
		want:  []string{"10.0.0.1 subflow", "10.0.0.2 subflow"},
		wantOps: []string{
			"delete 10.9.0.1 id 1", "add 10.0.0.1 subflow",
			"delete 10.9.0.2 id 2", "add 10.0.0.2 subflow",
			"delete 10.9.0.3 id 3", "delete 10.9.0.4 id 4",
			"delete 10.9.0.5 id 5", "delete 10.9.0.6 id 6",
			"delete 10.9.0.7 id 7", "delete 10.9.0.8 id 8",
		},
		wantTable: []string{"10.0.0.1 id 0 subflow", "10.0.0.2 id 0 subflow"},
	}, {
		name:        "foreign endpoints fill the table",
		table:       plain(8, ""),
		want:        []string{"10.0.0.1 subflow", "10.0.0.2 subflow"},
		wantLeftOut: []string{"10.0.0.1 id 0 subflow", "10.0.0.2 id 0 subflow"},
		wantTable:   plain(8, ""),
	}, {
		name:        "the first wanted keep their slots",
		table:       append(plain(6, ""), "10.0.0.3 id 9 subflow"),
		want:        []string{"10.0.0.1 subflow", "10.0.0.2 subflow", "10.0.0.3 subflow", "10.0.0.4 subflow"},
		wantOps:     []string{"add 10.0.0.1 subflow", "delete 10.0.0.3 id 9", "add 10.0.0.2 subflow"},
		wantLeftOut: []string{"10.0.0.3 id 0 subflow", "10.0.0.4 id 0 subflow"},
		wantTable:   append(plain(6, ""), "10.0.0.1 id 0 subflow", "10.0.0.2 id 0 subflow"),
	}, {
		name:      "an IPv4-mapped address is the IPv4 one",
		table:     []string{"10.0.0.1 id 2 subflow"},
		want:      []string{"::ffff:10.0.0.1 subflow", "10.0.0.1 signal"},
		wantTable: []string{"10.0.0.1 id 2 subflow"},
	}, {
		name:      "a duplicate wanted key is ignored",
		want:      []string{"10.0.0.1 subflow", "10.0.0.1 signal"},
		wantOps:   []string{"add 10.0.0.1 subflow"},
		wantTable: []string{"10.0.0.1 id 0 subflow"},
	}, {
		name:       "limits raised before adds",
		limits:     pm.Limits{Subflows: 2},
		want:       []string{"10.0.0.1 subflow"},
		wantLimits: &pm.LimitsWant{Subflows: u32(3), AddAddrAccepted: u32(1)},
		wantOps:    []string{"limits add_addr_accepted 1 subflows 3", "add 10.0.0.1 subflow"},
		wantTable:  []string{"10.0.0.1 id 0 subflow"},
		wantLimit:  pm.Limits{Subflows: 3, AddAddrAccepted: 1},
	}, {
		name:       "limits lowered after deletes",
		table:      []string{"10.0.0.1 id 1 subflow"},
		limits:     pm.Limits{Subflows: 4, AddAddrAccepted: 2},
		stale:      staleIf("10."),
		wantLimits: &pm.LimitsWant{Subflows: u32(0), AddAddrAccepted: u32(1)},
		wantOps:    []string{"delete 10.0.0.1 id 1", "limits add_addr_accepted 1 subflows 0"},
		wantLimit:  pm.Limits{Subflows: 0, AddAddrAccepted: 1},
	}, {
		name:       "one limit up and one down in two ops",
		table:      []string{"10.0.0.1 id 1 subflow"},
		limits:     pm.Limits{Subflows: 4, AddAddrAccepted: 2},
		stale:      staleIf("10.0.0.1"),
		want:       []string{"10.0.0.2 subflow backup"},
		wantLimits: &pm.LimitsWant{Subflows: u32(1), AddAddrAccepted: u32(3)},
		wantOps: []string{"limits add_addr_accepted 3 subflows 4", "add 10.0.0.2 subflow backup",
			"delete 10.0.0.1 id 1", "limits add_addr_accepted 3 subflows 1"},
		wantTable: []string{"10.0.0.2 id 0 subflow backup"},
		wantLimit: pm.Limits{Subflows: 1, AddAddrAccepted: 3},
	}, {
		name:       "a nil limit is left alone",
		limits:     pm.Limits{Subflows: 4, AddAddrAccepted: 2},
		wantLimits: &pm.LimitsWant{AddAddrAccepted: u32(2)},
		wantLimit:  pm.Limits{Subflows: 4, AddAddrAccepted: 2},
	}, {
		name: "clears, adds, sets, deletes",
		table: []string{"10.0.0.1 id 1 subflow", "10.0.0.2 id 2 subflow",
			"10.0.0.3 id 3 signal", "10.0.0.5 id 5 subflow backup"},
		stale: staleIf("10.0.0.3"),
		want: []string{"10.0.0.4 subflow", "10.0.0.2 subflow backup",
			"10.0.0.1 signal", "10.0.0.5 subflow"},
		wantOps: []string{
			"change 10.0.0.5 id 5 nobackup", "add 10.0.0.4 subflow",
			"delete 10.0.0.1 id 1", "add 10.0.0.1 signal",
			"change 10.0.0.2 id 2 backup", "delete 10.0.0.3 id 3",
		},
		wantTable: []string{"10.0.0.2 id 2 subflow backup", "10.0.0.5 id 5 subflow",
			"10.0.0.4 id 0 subflow", "10.0.0.1 id 0 signal"},
	}, {
		// S3: eth0 comes back; Wi-Fi becomes backup once eth0's
		// endpoint exists, never before.
		name:      "redock: the wired endpoint before Wi-Fi turns backup",
		table:     []string{"198.51.100.20 id 2 subflow dev if3"},
		want:      []string{"192.0.2.10 subflow dev if2", "198.51.100.20 subflow backup dev if3"},
		wantOps:   []string{"add 192.0.2.10 subflow dev if2", "change 198.51.100.20 id 2 backup"},
		wantTable: []string{"198.51.100.20 id 2 subflow backup dev if3", "192.0.2.10 id 0 subflow dev if2"},
	}, {
		// S2: eth0 goes; Wi-Fi stops being backup before anything else.
		name:      "undock: Wi-Fi clears backup first",
		table:     []string{"192.0.2.10 id 1 subflow dev if2", "198.51.100.20 id 2 subflow backup dev if3"},
		stale:     staleIf("192."),
		want:      []string{"198.51.100.20 subflow dev if3", "10.0.0.1 subflow"},
		wantOps:   []string{"change 198.51.100.20 id 2 nobackup", "add 10.0.0.1 subflow", "delete 192.0.2.10 id 1"},
		wantTable: []string{"198.51.100.20 id 2 subflow dev if3", "10.0.0.1 id 0 subflow"},
	}, {
		name: "fullmesh cleared before the adds, set after",
		table: []string{"10.0.0.1 id 1 subflow fullmesh", "10.0.0.2 id 2 subflow",
			"10.0.0.3 id 3 subflow backup", "10.0.0.4 id 4 subflow fullmesh"},
		want: []string{"10.0.0.1 subflow", "10.0.0.2 subflow fullmesh",
			"10.0.0.3 subflow fullmesh", "10.0.0.4 subflow backup", "10.0.0.5 subflow"},
		wantOps: []string{
			"change 10.0.0.1 id 1 nobackup", "change 10.0.0.3 id 3 nobackup fullmesh",
			"add 10.0.0.5 subflow",
			"change 10.0.0.2 id 2 nobackup fullmesh", "change 10.0.0.4 id 4 backup",
		},
		wantTable: []string{"10.0.0.1 id 1 subflow", "10.0.0.2 id 2 subflow fullmesh",
			"10.0.0.3 id 3 subflow fullmesh", "10.0.0.4 id 4 subflow backup", "10.0.0.5 id 0 subflow"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limits := tt.limits
			wantLimit := tt.wantLimit
			if tt.limits == (pm.Limits{}) && tt.wantLimits == nil {
				limits, wantLimit = defaultLimits, defaultLimits
			}
			d := pm.Desired{
				Endpoints:   parseEndpoints(t, tt.want...),
				Stale:       tt.stale,
				Unsupported: tt.unsupported,
			}
			if tt.wantLimits != nil {
				d.Limits = func([]pm.Endpoint) pm.LimitsWant { return *tt.wantLimits }
			}

			p := pm.Diff(parseEndpoints(t, tt.table...), limits, d)

			if diff := cmp.Diff(tt.wantOps, formatOps(p.Ops)); diff != "" {
				t.Errorf("unexpected ops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLeftOut, formatEndpoints(p.LeftOut)); diff != "" {
				t.Errorf("unexpected left out (-want +got):\n%s", diff)
			}
			wantTable := formatEndpoints(parseEndpoints(t, tt.wantTable...))
			if diff := cmp.Diff(wantTable, formatEndpoints(p.Table)); diff != "" {
				t.Errorf("unexpected table (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantLimit, p.Limits); diff != "" {
				t.Errorf("unexpected limits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiffLimitsSeeResult checks that Limits sees the resulting table,
// foreign endpoints included, and that Diff leaves its inputs alone.
func TestDiffLimitsSeeResult(t *testing.T) {
	table := parseEndpoints(t, "10.8.0.1 id 5 signal", "10.0.0.1 id 6 subflow")
	want := parseEndpoints(t, "10.0.0.2 id 9 subflow", "10.0.0.2 signal")
	before := formatEndpoints(append(table, want...))

	var seen []string
	d := pm.Desired{
		Endpoints: want,
		Stale:     staleIf("10.0."),
		Limits: func(t []pm.Endpoint) pm.LimitsWant {
			seen = formatEndpoints(t)
			return pm.LimitsWant{Subflows: u32(uint32(len(t)))}
		},
	}
	p := pm.Diff(table, pm.Limits{Subflows: 2}, d)

	wantSeen := []string{"10.8.0.1 id 5 signal", "10.0.0.2 id 0 subflow"}
	if diff := cmp.Diff(wantSeen, seen); diff != "" {
		t.Errorf("unexpected table given to Limits (-want +got):\n%s", diff)
	}
	if len(p.Ops) != 2 || p.Limits.Subflows != 2 {
		t.Errorf("got ops %q and limits %s, want an add, a delete and subflows 2",
			formatOps(p.Ops), p.Limits)
	}
	if diff := cmp.Diff(before, formatEndpoints(append(table, want...))); diff != "" {
		t.Errorf("Diff changed its inputs (-before +after):\n%s", diff)
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		kind   pm.OpKind
		ep     string
		limits pm.Limits
		want   string
	}{
		{pm.OpAdd, "192.0.2.10 subflow dev if3", pm.Limits{},
			"add 192.0.2.10 subflow dev if3"},
		{pm.OpAdd, "192.0.2.10 port 80 signal", pm.Limits{},
			"add 192.0.2.10 port 80 signal"},
		{pm.OpDelete, "192.0.2.10 id 2 subflow", pm.Limits{},
			"delete 192.0.2.10 id 2"},
		{pm.OpSetFlags, "198.51.100.20 id 2 subflow", pm.Limits{},
			"change 198.51.100.20 id 2 nobackup"},
		{pm.OpSetLimits, "", pm.Limits{Subflows: 2, AddAddrAccepted: 1},
			"limits add_addr_accepted 1 subflows 2"},
	}
	for _, tt := range tests {
		op := pm.Op{Kind: tt.kind, Limits: tt.limits}
		if tt.ep != "" {
			op.Endpoint = parseEndpoint(t, tt.ep)
		}
		if got := op.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
