package pm_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// eventWait bounds how long a test waits for the kernel's events; it is a
// failure deadline, not a pause.
const eventWait = 10 * time.Second

// events collects one namespace's events as they arrive.
type events struct {
	t    *testing.T
	name string
	conn *pm.EventConn
	got  []pm.Event
}

func listen(t *testing.T, ns *nstest.NS) *events {
	t.Helper()
	ec, err := pm.DialEvents(&pm.Config{NetNS: ns.Path()})
	if err != nil {
		t.Fatalf("joining events in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { ec.Close() })

	return &events{t: t, name: ns.Name, conn: ec}
}

// waitFor receives until match returns true for an event, and returns it.
func (e *events) waitFor(what string, match func(pm.Event) bool) pm.Event {
	e.t.Helper()
	for _, ev := range e.got {
		if match(ev) {
			return ev
		}
	}

	if err := e.conn.SetDeadline(time.Now().Add(eventWait)); err != nil {
		e.t.Fatalf("setting deadline: %v", err)
	}
	for {
		evs, err := e.conn.Receive()
		if err != nil {
			e.t.Fatalf("%s: waiting for %s: %v; got so far: %+v", e.name, what, err, e.got)
		}
		e.got = append(e.got, evs...)
		for _, ev := range evs {
			if match(ev) {
				return ev
			}
		}
	}
}

func ofType(typ pm.EventType) func(pm.Event) bool {
	return func(ev pm.Event) bool { return ev.Type == typ }
}

func TestEventsTwoPaths(t *testing.T) {
	p := nstest.NewPaths(t, "ev")
	p.ConfigureDemo()
	cli, srv := listen(t, p.Client), listen(t, p.Server)

	// Bound to every address: the join to S2 needs a listener there too
	// (bound to S1 only, it is refused with ECONNREFUSED).
	sink, err := p.Server.ListenMPTCP("0.0.0.0:18080")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	conn, err := p.Client.DialMPTCP(ctx, netip.AddrPortFrom(p.S1, 18080).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("hello over mptcp")); err != nil {
		t.Fatalf("writing: %v", err)
	}
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()

	created := cli.waitFor("created", ofType(pm.EventCreated))
	checkEvent(t, "client created", created, pm.Event{
		Type: pm.EventCreated, Token: created.Token, Family: 2,
		Saddr: p.C1, Daddr: p.S1, Sport: local.Port(), Dport: 18080,
	}, pm.AttrToken, pm.AttrFamily, pm.AttrSaddr4, pm.AttrDaddr4,
		pm.AttrSport, pm.AttrDport, pm.AttrLocID, pm.AttrRemID)
	if created.Token == 0 || created.ServerSide {
		t.Errorf("client created: token %x server side %v", created.Token, created.ServerSide)
	}
	tok := created.Token

	est := cli.waitFor("established", ofType(pm.EventEstablished))
	if est.Token != tok || est.Saddr != p.C1 || est.Dport != 18080 {
		t.Errorf("client established: %+v", est)
	}

	ann := cli.waitFor("announced", ofType(pm.EventAnnounced))
	checkEvent(t, "client announced", ann, pm.Event{
		Type: pm.EventAnnounced, Token: tok, RemoteID: 1, Daddr: p.S2,
		Dport: 18080,
	}, pm.AttrToken, pm.AttrRemID, pm.AttrDport, pm.AttrDaddr4)

	// Subflow 2: the client answers the ADD_ADDR for S2 (remote id 1)
	// from C2; subflow 3: the client's own subflow endpoint C2 (local id
	// 1, dev c2) to the server's initial address (remote id 0).
	toS2 := cli.waitFor("sub_established to S2", func(ev pm.Event) bool {
		return ev.Type == pm.EventSubEstablished && ev.Daddr == p.S2
	})
	checkSubflow(t, "client subflow to S2", toS2, tok, p.C2, p.S2, 1, 1, 0)
	toS1 := cli.waitFor("sub_established to S1", func(ev pm.Event) bool {
		return ev.Type == pm.EventSubEstablished && ev.Daddr == p.S1
	})
	checkSubflow(t, "client subflow to S1", toS1, tok, p.C2, p.S1, 1, 0, nstest.C2Index)

	// The server sees the same connection from its side. Its listener is
	// a dual-stack IPv6 socket (Go's choice for 0.0.0.0 with "tcp"), so
	// its events carry IPv4-mapped IPv6 addresses, family 10.
	screated := srv.waitFor("server created", ofType(pm.EventCreated))
	if !screated.ServerSide || screated.Saddr.Unmap() != p.S1 ||
		screated.Sport != 18080 || screated.Daddr.Unmap() != p.C1 ||
		screated.Dport != local.Port() {
		t.Errorf("server created: %+v", screated)
	}
	ssub := srv.waitFor("server sub_established from S2", func(ev pm.Event) bool {
		return ev.Type == pm.EventSubEstablished && ev.Saddr.Unmap() == p.S2
	})
	if ssub.Token != screated.Token || ssub.Daddr.Unmap() != p.C2 ||
		ssub.LocalID != 1 || ssub.RemoteID != 1 || ssub.Sport != 18080 ||
		ssub.Dport != toS2.Sport {
		t.Errorf("server subflow S2: %+v, want the other end of %+v", ssub, toS2)
	}

	conn.Close()
	closed := cli.waitFor("closed", ofType(pm.EventClosed))
	checkEvent(t, "client closed", closed,
		pm.Event{Type: pm.EventClosed, Token: tok}, pm.AttrToken)
}

// checkEvent compares got with want, taking want's Present from attrs.
func checkEvent(t *testing.T, what string, got, want pm.Event, attrs ...pm.EventAttr) {
	t.Helper()
	for _, a := range attrs {
		want.Present = want.Present.With(a)
	}
	// Attributes the kernel adds on some versions only.
	for _, a := range []pm.EventAttr{pm.AttrFlags, pm.AttrServerSide} {
		if got.Present.Has(a) {
			want.Present = want.Present.With(a)
		}
	}
	want.Flags, want.ServerSide = got.Flags, got.ServerSide
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func checkSubflow(t *testing.T, what string, got pm.Event, token uint32,
	saddr, daddr netip.Addr, loc, rem uint8, ifindex int32) {
	t.Helper()
	want := pm.Event{
		Type: pm.EventSubEstablished, Token: token, Family: 2,
		LocalID: loc, RemoteID: rem, Saddr: saddr, Daddr: daddr,
		Sport: got.Sport, Dport: got.Dport, Ifindex: ifindex,
	}
	attrs := []pm.EventAttr{pm.AttrToken, pm.AttrFamily, pm.AttrSaddr4,
		pm.AttrDaddr4, pm.AttrSport, pm.AttrDport, pm.AttrLocID,
		pm.AttrRemID, pm.AttrBackup}
	if ifindex != 0 {
		attrs = append(attrs, pm.AttrIfindex)
	}
	if got.Sport == 0 || got.Dport == 0 {
		t.Errorf("%s: ports %d -> %d", what, got.Sport, got.Dport)
	}
	checkEvent(t, what, got, want, attrs...)
}

func TestEventsListener(t *testing.T) {
	ns, c := dial(t, "lsn")
	ns.Veth("v1", 11, ns, "v2", 12)
	ns.IP("addr", "add", "10.9.1.1/24", "dev", "v1")
	ev := listen(t, ns)

	e := mustAdd(t, c, pm.Endpoint{Addr: netip.MustParseAddr("10.9.1.1"),
		Port: 20001, Flags: pm.FlagSignal})
	got := ev.waitFor("listener_created", ofType(pm.EventListenerCreated))
	checkEvent(t, "listener created", got, pm.Event{
		Type: pm.EventListenerCreated, Family: 2,
		Saddr: netip.MustParseAddr("10.9.1.1"), Sport: 20001,
	}, pm.AttrFamily, pm.AttrSport, pm.AttrSaddr4)

	if err := c.DeleteEndpoint(e.ID, netip.Addr{}); err != nil {
		t.Fatalf("deleting the port endpoint: %v", err)
	}
	got = ev.waitFor("listener_closed", ofType(pm.EventListenerClosed))
	if got.Saddr.String() != "10.9.1.1" || got.Sport != 20001 || got.Present.Has(pm.AttrToken) {
		t.Errorf("listener closed: %+v", got)
	}
}

func TestEventsDeadline(t *testing.T) {
	ns := nstest.New(t, "evdl")
	ev := listen(t, ns)
	if err := ev.conn.SetDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.conn.Receive(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("receiving past the deadline: got %v, want a deadline error", err)
	}
}

// TestEventsOverrun fills a small receive buffer with listener events and
// checks that the loss surfaces as ErrEventsLost, after which the same
// connection goes on delivering.
func TestEventsOverrun(t *testing.T) {
	ns := nstest.New(t, "evnobufs")
	ev := listen(t, ns)
	if err := ev.conn.SetReadBuffer(1); err != nil {
		t.Fatalf("shrinking the buffer: %v", err)
	}

	// Each listen and close makes LISTENER_CREATED and LISTENER_CLOSED,
	// far more than the kernel's minimum buffer holds.
	for i := range 200 {
		sink, err := ns.ListenMPTCP("127.0.0.1:0")
		if err != nil {
			t.Fatalf("listener %d: %v", i, err)
		}
		sink.Close()
	}

	if err := ev.conn.SetDeadline(time.Now().Add(eventWait)); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := ev.conn.Receive()
		if errors.Is(err, pm.ErrEventsLost) {
			break
		}
		if err != nil {
			t.Fatalf("receiving: got %v, want ErrEventsLost first", err)
		}
	}

	sink, err := ns.ListenMPTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.Close()
	ev.got = nil
	ev.waitFor("a listener event after the overrun", func(e pm.Event) bool {
		return e.Type == pm.EventListenerCreated || e.Type == pm.EventListenerClosed
	})
}
