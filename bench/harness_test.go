package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

func TestAutopmOps(t *testing.T) {
	tests := []struct {
		name string
		line string
		want int
	}{
		{"two ops", `time=2026-12-04T15:00:00Z level=INFO msg=reconciled component=engine ops="add 10.1.0.7 subflow dev eth0 (rule other); del 10.1.0.6 (no carrier)"`, 2},
		{"one op", `level=INFO msg=reconciled ops="add 10.1.0.7 subflow dev eth0 (rule \"other\")" trigger=event`, 1},
		{"no ops", `level=INFO msg=reconciled ops=""`, 0},
		{"other line", `level=INFO msg="rules loaded" ops="x; y"`, 0},
		{"refused", `level=ERROR msg="operation refused, will retry" component=engine op="add 10.1.0.7" err="file exists"`, 1},
		{"refused again", `level=WARN msg="operation refused again, will retry" op="add 10.1.0.7" attempts=2`, 1},
		{"adopted only", `level=INFO msg=reconciled ops="" trigger=event adopted="10.1.0.1"`, 0},
		{"debug line", `level=DEBUG msg="endpoint added" addr=10.1.0.7`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := autopmOps([]byte(tt.line)); got != tt.want {
				t.Errorf("unexpected op count: want %d, got %d", tt.want, got)
			}
		})
	}
}

func TestFloorOps(t *testing.T) {
	for line, want := range map[string]int{
		"op add 10.1.0.1 dev if10": 1,
		"op del 10.1.0.1 id 1":     1,
		"floor: file exists":       0,
	} {
		if got := floorOps([]byte(line)); got != want {
			t.Errorf("%q: unexpected op count: want %d, got %d", line, want, got)
		}
	}
}

func ep(a string, f pm.Flags, ifindex int32, id uint8) pm.Endpoint {
	return pm.Endpoint{ID: id, Addr: netip.MustParseAddr(a), Flags: f, Ifindex: ifindex}
}

func TestRender(t *testing.T) {
	got := render([]pm.Endpoint{
		ep("10.1.1.1", pm.FlagSubflow|pm.FlagBackup, 11, 7),
		ep("10.1.0.1", pm.FlagSubflow, 10, 3),
	})
	want := "10.1.0.1 subflow dev if10\n10.1.1.1 subflow backup dev if11"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}
}

func TestEndpointDiff(t *testing.T) {
	a := []pm.Endpoint{
		ep("10.1.0.1", pm.FlagSubflow, 10, 1),
		ep("10.1.1.1", pm.FlagSubflow, 11, 2),
		ep("10.1.2.1", pm.FlagSubflow, 12, 3),
	}
	tests := []struct {
		name string
		b    []pm.Endpoint
		want int
	}{
		{"same, other ids", []pm.Endpoint{
			ep("10.1.2.1", pm.FlagSubflow, 12, 9),
			ep("10.1.1.1", pm.FlagSubflow, 11, 8),
			ep("10.1.0.1", pm.FlagSubflow, 10, 7),
		}, 0},
		{"one flag change, one delete", []pm.Endpoint{
			ep("10.1.0.1", pm.FlagSubflow|pm.FlagBackup, 10, 1),
			ep("10.1.1.1", pm.FlagSubflow, 11, 2),
		}, 2},
		{"all new", []pm.Endpoint{ep("10.1.3.5", pm.FlagSubflow, 13, 0)}, 4},
		{"empty", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpointDiff(a, tt.b); got != tt.want {
				t.Errorf("unexpected diff: want %d, got %d", tt.want, got)
			}
		})
	}
}

// TestBurstPlan replays a plan on a model of the links and checks the
// invariants the figure relies on: never more than 8 addresses, no
// address added twice or deleted when absent, and a wanted table that
// matches the final state.
func TestBurstPlan(t *testing.T) {
	p := newBurstPlan(100, 1000)
	if len(p.ops) != 1000 {
		t.Fatalf("unexpected op count: want 1000, got %d", len(p.ops))
	}

	carrier := make([]bool, burstLinks)
	host := make([]int, burstLinks)
	for k := range carrier {
		carrier[k], host[k] = true, 1
	}
	kinds := map[string]int{}
	for i, op := range p.ops {
		switch {
		case op.carrier:
			if carrier[op.k] == op.on {
				t.Fatalf("op %d: carrier of link %d already %t", i, op.k, op.on)
			}
			carrier[op.k] = op.on
			kinds["carrier"]++
		case op.on:
			if host[op.k] != 0 {
				t.Fatalf("op %d: link %d already has an address", i, op.k)
			}
			host[op.k] = op.h
			kinds["add"]++
		default:
			if host[op.k] != op.h {
				t.Fatalf("op %d: deleting 10.1.%d.%d, link has host %d", i, op.k, op.h, host[op.k])
			}
			host[op.k] = 0
			kinds["del"]++
		}
	}
	for _, k := range []string{"carrier", "add", "del"} {
		if kinds[k] == 0 {
			t.Errorf("the plan has no %s change", k)
		}
	}

	var want []pm.Endpoint
	for k := range burstLinks {
		if carrier[k] && host[k] != 0 {
			want = append(want, pm.Endpoint{Addr: addr(k, host[k]),
				Flags: pm.FlagSubflow, Ifindex: int32(10 + k)})
		}
	}
	if diff := cmp.Diff(render(want), render(p.want)); diff != "" {
		t.Errorf("unexpected wanted table (-want +got):\n%s", diff)
	}

	if again := newBurstPlan(100, 1000); !cmp.Equal(render(again.want), render(p.want)) {
		t.Error("the same seed gave another plan")
	}
}

func TestDistCell(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		d    dist
		q    float64
		want cell
	}{
		{"p50 of hits", dist{Samples: []float64{3, 1, 2}}, 0.5, cell{Value: f(2)}},
		{"p99 of hits", dist{Samples: []float64{3, 1, 2}}, 0.99, cell{Value: f(3)}},
		{"misses raise p90", dist{Samples: []float64{1, 2}, Never: 1}, 0.9,
			cell{Text: "never (1/3)"}},
		{"p50 despite a miss", dist{Samples: []float64{1, 2}, Never: 1}, 0.5,
			cell{Value: f(2)}},
		{"only misses", dist{Never: 2}, 0.5, cell{Text: "never (2/2)"}},
		{"nothing", dist{}, 0.5, cell{Text: "n/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.d.cell(tt.q)); diff != "" {
				t.Errorf("unexpected cell (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSinkStall(t *testing.T) {
	t0 := time.Now().Add(-10 * time.Second)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	loss := at(1000)

	s := &sink{reads: []time.Time{at(500), at(900), at(990), at(1400), at(1410)}}
	stall, pre := s.stall(loss)
	// The stall after the last read runs until now, about 8.6 s.
	if stall < 8*time.Second {
		t.Errorf("unexpected stall %s: a transfer stopped at 1410 ms still stalls", stall)
	}
	if pre != 400*time.Millisecond {
		t.Errorf("unexpected gap before loss: want 400ms, got %s", pre)
	}

	s = &sink{reads: []time.Time{at(900), at(990)}}
	if stall, _ := s.stall(loss); stall != -1 {
		t.Errorf("unexpected stall %s: want -1 when nothing arrived after the loss", stall)
	}
}

// TestAutopmRules checks that the rules file the bench gives mptcp-autopm
// loads and declares the veth types.
func TestAutopmRules(t *testing.T) {
	set, err := rules.Parse("autopm-rules.toml", []byte(autopmRules))
	if err != nil {
		t.Fatalf("loading the bench's rules: %v", err)
	}

	want := []rules.TypeOverride{{Glob: "eth*", Type: "ethernet"}, {Glob: "wlan*", Type: "wifi"}}
	if diff := cmp.Diff(want, set.Settings().Types); diff != "" {
		t.Errorf("unexpected type overrides (-want +got):\n%s", diff)
	}
}

func TestCheckTargets(t *testing.T) {
	r := &report{}
	r.distRows("1 reaction", "µs", map[string]*dist{
		autopm: {Samples: []float64{300}}, mptcpd: {Samples: []float64{400}},
		floor: {Samples: []float64{100}},
	})
	r.distRows("3 carrier loss", "ms", map[string]*dist{
		autopm: {Samples: []float64{10, 30}}, mptcpd: {Never: 2},
		floor: {Samples: []float64{10, 20}},
	})
	r.addRow("4 burst", "settle p50", "ms", map[string]cell{autopm: num(40)})
	r.addRow("4 burst", "target: 20 + 13/delete (round 1)", "ms",
		map[string]cell{autopm: num(46)})
	r.addRow("4 burst", "final table right", "runs",
		map[string]cell{autopm: word("2/3")})
	r.addRow("4 burst", "ops <= first reaction + minimal diff", "runs",
		map[string]cell{autopm: word("3/3")})
	r.addRow("7 failover", "longest stall p50", "ms", map[string]cell{
		autopm: num(5), mptcpd: num(200), static: num(3)})
	r.addRow("5 idle 30s", "peak RSS (VmHWM)", "MiB", map[string]cell{autopm: num(9)})
	r.checkTargets()

	got := map[string]bool{}
	for _, tg := range r.Targets {
		got[tg.Goal] = tg.Met
	}
	want := map[string]bool{
		"reaction p50 <= mptcpd's":                                          true,
		"carrier loss p50 within 1.2x floor":                                true,
		"carrier loss p99 within 1.2x floor":                                false,
		"burst settled within 20 ms + 13 ms per needed delete, table right": false,
		"burst ops within first reaction + minimal diff":                    true,
		"failover gap shorter than mptcpd's":                                true,
		"failover gap shorter than static's":                                false,
		"RSS < 12 MiB":                                                      true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected targets met (-want +got):\n%s", diff)
	}
}
