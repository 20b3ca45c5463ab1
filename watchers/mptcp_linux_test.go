package watchers

import (
	"context"
	"net"
	"testing"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// TestWatchMPTCPEvents runs a two-path MPTCP connection between two
// namespaces and checks the client's subflow counters: the initial
// subflow from C1 (local id 0) and the subflows from C2 are told apart by
// address. How many joins from C2 succeed depends on timing (one of the
// two sometimes fails with an error), so C2 needs one at least.
func TestWatchMPTCPEvents(t *testing.T) {
	p := nstest.NewPaths(t, "wmp")
	p.ConfigureDemo()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := Watch(ctx, Options{NetNS: p.Client.Path(), MPTCPEvents: true})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	waitFor(t, ch, "the client's links", func(s Snapshot) bool {
		_, ok := linkNamed(s, nstest.C2Name)
		return ok
	})

	sink, err := p.Server.ListenMPTCP(net.JoinHostPort(p.S1.String(), "18080"))
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer sink.Close()
	conn, err := p.Client.DialMPTCP(ctx, sink.Addr())
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}

	k1 := SubflowKey{Addr: p.C1, Ifindex: nstest.C1Index}
	k2 := SubflowKey{Addr: p.C2, Ifindex: nstest.C2Index}
	waitFor(t, ch, "subflows from both addresses", func(s Snapshot) bool {
		m := s.MPTCP
		return m.Connections == 1 && m.Announced == 1 &&
			m.Subflows[k1].Established == 1 &&
			m.Subflows[k2].Established >= 1
	})

	conn.Close()
	waitFor(t, ch, "the connection closed", func(s Snapshot) bool {
		m := s.MPTCP
		return m.Connections == 0 && m.Announced == 0 &&
			m.Subflows[k1].Established == 0 &&
			m.Subflows[k2].Established == 0 &&
			m.Subflows[k1].Closed == 1 && m.Subflows[k2].Closed >= 1
	})
}
