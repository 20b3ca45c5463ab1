package watchers

import (
	"net"
	"net/netip"
	"testing"
	"testing/fstest"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestPublishOnlyChanges feeds a watcher messages one at a time and checks
// that it sends a snapshot only when what a snapshot keeps changed: the
// engine reconciles after every snapshot, so a repeated one costs a
// reconcile for nothing.
func TestPublishOnlyChanges(t *testing.T) {
	w, err := newWatcher(Options{Sysfs: fstest.MapFS{}})
	if err != nil {
		t.Fatal(err)
	}
	eth0 := &netlink.LinkUpdate{Link: &netlink.Device{
		LinkAttrs: netlink.LinkAttrs{Index: 2, Name: "eth0", MTU: 1500,
			RawFlags: unix.IFF_UP | unix.IFF_LOWER_UP}}}
	eth0.Header.Type = unix.RTM_NEWLINK
	addr := &netlink.AddrUpdate{NewAddr: true, LinkIndex: 2,
		LinkAddress: net.IPNet{IP: net.IPv4(192, 0, 2, 10).To4(),
			Mask: net.CIDRMask(24, 32)}}
	local := &netlink.RouteUpdate{Type: unix.RTM_NEWROUTE,
		Route: netlink.Route{Type: unix.RTN_LOCAL, Table: unix.RT_TABLE_LOCAL,
			LinkIndex: 2, Dst: &net.IPNet{IP: net.IPv4(192, 0, 2, 10).To4(),
				Mask: net.CIDRMask(32, 32)}}}
	saddr := netip.MustParseAddr("192.0.2.10")

	tests := []struct {
		name string
		m    message
		want uint64 // Seq of the snapshot sent, 0 for none
	}{
		{"a new link", message{link: eth0}, 1},
		{"the same link again", message{link: eth0}, 0},
		{"a new address", message{addr: addr}, 2},
		{"a route of the local table", message{route: local}, 0},
		{"the same address again", message{addr: addr}, 0},
		{"a connection", message{mptcp: []mptcpEvent{
			{kind: eventCreated, token: 1},
			{kind: eventEstablished, token: 1, saddr: saddr},
		}}, 3},
		{"an event about no known connection", message{mptcp: []mptcpEvent{
			{kind: eventRemoved, token: 9, remoteID: 1},
		}}, 0},
	}
	out := make(chan Snapshot, 1)
	for _, tt := range tests {
		w.applyOne(tt.m)
		w.publish(out)

		var got uint64
		select {
		case s := <-out:
			got = s.Seq
		default:
		}
		if got != tt.want {
			t.Errorf("%s: sent snapshot %d, want %d (0: none)", tt.name,
				got, tt.want)
		}
	}
}
