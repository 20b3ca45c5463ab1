package pm

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
)

// These tests check the client's messages with a message-level fake: the
// flags of each request and the handling of interrupted dumps, which a
// real kernel cannot be made to produce on demand.

const fakeFamily = 0x1c

// genlReply wraps attributes in a reply of the fake family.
func genlReply(t *testing.T, cmd uint8, data []byte, flags netlink.HeaderFlags) netlink.Message {
	t.Helper()
	b, err := (&genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: 1},
		Data:   data,
	}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	return netlink.Message{
		Header: netlink.Header{Type: fakeFamily, Flags: flags},
		Data:   b,
	}
}

func endpointAttrs(t *testing.T, e Endpoint) []byte {
	t.Helper()
	b, err := encodeEndpoint(e)
	if err != nil {
		t.Fatal(err)
	}

	return b
}

func TestDumpRetriesWhenInterrupted(t *testing.T) {
	a := Endpoint{ID: 2, Addr: netip.MustParseAddr("10.9.1.2")}
	b := Endpoint{ID: 1, Addr: netip.MustParseAddr("10.9.1.1")}
	var dumps int
	conn := nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		req := reqs[0]
		if want := netlink.Request | netlink.Dump; req.Header.Flags != want {
			t.Errorf("dump sent with flags %v, want %v", req.Header.Flags, want)
		}
		dumps++
		var intr netlink.HeaderFlags
		if dumps < 3 {
			intr = netlink.DumpInterrupted
		}
		msgs := []netlink.Message{
			genlReply(t, cmdGetAddr, endpointAttrs(t, a), intr),
			genlReply(t, cmdGetAddr, endpointAttrs(t, b), 0),
			{},
		}
		for i := range msgs {
			msgs[i].Header.Sequence = req.Header.Sequence
			msgs[i].Header.PID = req.Header.PID
		}

		return nltest.Multipart(msgs)
	})
	c := &Client{nl: conn, family: familyInfo{id: fakeFamily}}
	defer c.Close()

	got, err := c.Endpoints()
	if err != nil {
		t.Fatalf("listing: %v", err)
	}
	if dumps != 3 {
		t.Errorf("dumped %d times, want 3 (two interrupted)", dumps)
	}
	if diff := cmp.Diff([]Endpoint{b, a}, got, addrCmp); diff != "" {
		t.Errorf("unexpected endpoints (-want +got):\n%s", diff)
	}
}

func TestDumpGivesUpWhenAlwaysInterrupted(t *testing.T) {
	conn := nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		m := genlReply(t, cmdGetAddr, endpointAttrs(t,
			Endpoint{ID: 1, Addr: netip.MustParseAddr("10.9.1.1")}),
			netlink.DumpInterrupted)
		m.Header.Sequence = reqs[0].Header.Sequence
		m.Header.PID = reqs[0].Header.PID

		return nltest.Multipart([]netlink.Message{m, {Header: m.Header}})
	})
	c := &Client{nl: conn, family: familyInfo{id: fakeFamily}}
	defer c.Close()

	if eps, err := c.Endpoints(); err == nil {
		t.Errorf("listing succeeded with %v, want an error", eps)
	}
}

func TestRequestFlags(t *testing.T) {
	var got []netlink.HeaderFlags
	conn := nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
		req := reqs[0]
		got = append(got, req.Header.Flags)
		if req.Header.Flags&netlink.Acknowledge != 0 {
			return nltest.Error(0, reqs)
		}

		l := Limits{AddAddrAccepted: 1, Subflows: 2}
		data, err := encodeLimits(&l.Subflows, &l.AddAddrAccepted)
		if err != nil {
			t.Fatal(err)
		}
		m := genlReply(t, cmdGetLimits, data, 0)
		m.Header.Sequence, m.Header.PID = req.Header.Sequence, req.Header.PID

		return []netlink.Message{m}, nil
	})
	c := &Client{nl: conn, family: familyInfo{id: fakeFamily}}
	defer c.Close()

	if _, err := c.Limits(); err != nil {
		t.Fatalf("getting limits: %v", err)
	}
	if err := c.SetLimits(Limits{Subflows: 1}); err != nil {
		t.Fatalf("setting limits: %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("flushing: %v", err)
	}

	// Gets go without an ACK request (KERNEL-MPTCP-PM.md §11), changes
	// with one.
	want := []netlink.HeaderFlags{
		netlink.Request,
		netlink.Request | netlink.Acknowledge,
		netlink.Request | netlink.Acknowledge,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected request flags (-want +got):\n%s", diff)
	}
}
