package nstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// A Paths is a client and a server namespace joined by two veth paths, the
// topology of a two-path MPTCP connection:
//
//	client  c1 10.200.1.1/24 (ifindex 11) <-- path 1 --> s1 10.200.1.2/24 (21)  server
//	        c2 10.200.2.1/24 (ifindex 12) <-- path 2 --> s2 10.200.2.2/24 (22)
//
// Source routing sends packets from each path-2 address out through path 2,
// so a subflow from c2's address really uses the second path. NewPaths
// leaves the path manager alone: tests add the endpoints and limits they
// are about (see ConfigureDemo for the usual ones).
type Paths struct {
	Client, Server *NS

	// Addresses of the four veth ends.
	C1, C2, S1, S2 netip.Addr
}

// The interface names and indexes NewPaths gives the veth ends. Distinct
// indexes keep carrier changes urgent in the kernel's link watch.
const (
	C1Name, C2Name, S1Name, S2Name = "c1", "c2", "s1", "s2"
	C1Index, C2Index               = 11, 12
	S1Index, S2Index               = 21, 22
)

// NewPaths builds the two-path topology in two new namespaces. It skips t
// when the test is not privileged.
func NewPaths(t TB, tag string) *Paths {
	t.Helper()
	p := &Paths{
		Client: New(t, tag+"c"),
		Server: New(t, tag+"s"),
		C1:     netip.MustParseAddr("10.200.1.1"),
		C2:     netip.MustParseAddr("10.200.2.1"),
		S1:     netip.MustParseAddr("10.200.1.2"),
		S2:     netip.MustParseAddr("10.200.2.2"),
	}
	p.Client.Veth(C1Name, C1Index, p.Server, S1Name, S1Index)
	p.Client.Veth(C2Name, C2Index, p.Server, S2Name, S2Index)

	p.Client.IP("addr", "add", p.C1.String()+"/24", "dev", C1Name)
	p.Client.IP("addr", "add", p.C2.String()+"/24", "dev", C2Name)
	p.Server.IP("addr", "add", p.S1.String()+"/24", "dev", S1Name)
	p.Server.IP("addr", "add", p.S2.String()+"/24", "dev", S2Name)

	sourceRoute(p.Client, p.C2, C2Name)
	sourceRoute(p.Server, p.S2, S2Name)

	return p
}

// sourceRoute makes packets from addr leave through dev (table 102).
func sourceRoute(ns *NS, addr netip.Addr, dev string) {
	ns.t.Helper()
	ns.IP("rule", "add", "from", addr.String(), "table", "102", "pref", "100")
	ns.IP("route", "add", "10.200.0.0/16", "dev", dev, "src", addr.String(),
		"table", "102")
}

// ConfigureDemo sets up the path manager as tools/netns-mptcp-demo.sh does:
// the server announces S2 (`signal`, dev s2), the client opens a subflow
// from C2 (`subflow`, dev c2), both allow 2 subflows and the client accepts
// one ADD_ADDR. A connection from C1 to S1 then gets three subflows.
func (p *Paths) ConfigureDemo() {
	p.Server.t.Helper()
	p.Server.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "0")
	p.Server.IP("mptcp", "endpoint", "add", p.S2.String(), "dev", S2Name, "signal")
	p.Client.IP("mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "1")
	p.Client.IP("mptcp", "endpoint", "add", p.C2.String(), "dev", C2Name, "subflow")
}

// DialMPTCP connects from the namespace to addr with MPTCP and returns the
// bare connection (StreamMPTCP sends on its own); it fails if the connection
// fell back to plain TCP.
func (ns *NS) DialMPTCP(ctx context.Context, addr string) (*net.TCPConn, error) {
	var conn net.Conn
	err := ns.Do(func() error {
		var d net.Dialer
		d.SetMultipathTCP(true)
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)

		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s from %s: %w", addr, ns.Name, err)
	}

	tc := conn.(*net.TCPConn)
	if mp, err := tc.MultipathTCP(); err != nil || !mp {
		tc.Close()
		return nil, fmt.Errorf("dialing %s from %s: fell back to TCP (%v)",
			addr, ns.Name, err)
	}

	return tc, nil
}
