package watchers

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMPTCPCounter replays the events of a two-path connection as `ip
// mptcp monitor` showed them on the client (10.200.1.1 on ifindex 11,
// 10.200.2.1 on ifindex 12) and checks the counters after each.
func TestMPTCPCounter(t *testing.T) {
	c1 := netip.MustParseAddr("10.200.1.1")
	c2 := netip.MustParseAddr("10.200.2.1")
	s1 := netip.MustParseAddr("10.200.1.2")
	s2 := netip.MustParseAddr("10.200.2.2")
	ifindex := func(a netip.Addr) int {
		return map[netip.Addr]int{c1: 11, c2: 12}[a]
	}
	k1 := SubflowKey{Addr: c1, Ifindex: 11}
	k2 := SubflowKey{Addr: c2, Ifindex: 12}

	c := newMPTCPCounter(ifindex)
	steps := []struct {
		name string
		ev   mptcpEvent
		want MPTCPStats
	}{
		{
			name: "created",
			ev: mptcpEvent{kind: eventCreated, token: 1, saddr: c1,
				daddr: s1, sport: 34180, dport: 18080},
			want: MPTCPStats{Connections: 1},
		},
		{
			name: "established: the initial subflow, id 0",
			ev: mptcpEvent{kind: eventEstablished, token: 1, saddr: c1,
				daddr: s1, sport: 34180, dport: 18080},
			want: MPTCPStats{Connections: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}}},
		},
		{
			name: "announced",
			ev:   mptcpEvent{kind: eventAnnounced, token: 1, remoteID: 1, daddr: s2},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}}},
		},
		{
			name: "subflow from c2 without IF_IDX",
			ev: mptcpEvent{kind: eventSubEstablished, token: 1, saddr: c2,
				daddr: s2, sport: 57733, dport: 18080},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 1}}},
		},
		{
			name: "second subflow from c2, with IF_IDX",
			ev: mptcpEvent{kind: eventSubEstablished, token: 1, saddr: c2,
				daddr: s1, sport: 41235, dport: 18080, ifindex: 12},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 2}}},
		},
		{
			name: "duplicate event counts once",
			ev: mptcpEvent{kind: eventSubEstablished, token: 1, saddr: c2,
				daddr: s1, sport: 41235, dport: 18080, ifindex: 12},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 2}}},
		},
		{
			name: "subflow closed with an error",
			ev: mptcpEvent{kind: eventSubClosed, token: 1, saddr: c2,
				daddr: s2, sport: 57733, dport: 18080, err: 110},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 1, Closed: 1, Failed: 1}}},
		},
		{
			name: "failed join never established",
			ev: mptcpEvent{kind: eventSubClosed, token: 1, saddr: c2,
				daddr: s2, sport: 50000, dport: 18080, err: 111},
			want: MPTCPStats{Connections: 1, Announced: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 1, Closed: 2, Failed: 2}}},
		},
		{
			name: "removed",
			ev:   mptcpEvent{kind: eventRemoved, token: 1, remoteID: 1},
			want: MPTCPStats{Connections: 1, Subflows: map[SubflowKey]SubflowCount{
				k1: {Established: 1}, k2: {Established: 1, Closed: 2, Failed: 2}}},
		},
		{
			name: "closed closes the subflows left",
			ev:   mptcpEvent{kind: eventClosed, token: 1},
			want: MPTCPStats{Subflows: map[SubflowKey]SubflowCount{
				k1: {Closed: 1}, k2: {Closed: 3, Failed: 2}}},
		},
		{
			name: "closed of an unknown connection",
			ev:   mptcpEvent{kind: eventClosed, token: 9},
			want: MPTCPStats{Subflows: map[SubflowKey]SubflowCount{
				k1: {Closed: 1}, k2: {Closed: 3, Failed: 2}}},
		},
	}
	for _, st := range steps {
		c.apply(st.ev)
		if diff := cmp.Diff(st.want, c.snapshot()); diff != "" {
			t.Errorf("after %q: unexpected stats (-want +got):\n%s", st.name, diff)
		}
	}
}

// TestMPTCPCounterForget checks what is kept after lost events.
func TestMPTCPCounterForget(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::1")
	c := newMPTCPCounter(nil)
	c.apply(mptcpEvent{kind: eventEstablished, token: 1, saddr: a})
	c.apply(mptcpEvent{kind: eventSubClosed, token: 2, saddr: a, err: 1})
	c.forget()
	c.apply(mptcpEvent{kind: eventClosed, token: 1})

	want := MPTCPStats{Subflows: map[SubflowKey]SubflowCount{
		{Addr: a}: {Closed: 1, Failed: 1}}}
	if diff := cmp.Diff(want, c.snapshot()); diff != "" {
		t.Errorf("unexpected stats (-want +got):\n%s", diff)
	}
}
