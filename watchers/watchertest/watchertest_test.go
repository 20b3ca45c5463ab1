package watchertest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

func TestSource(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	src := New(ctx)

	eth0 := watchers.Link{Index: 2, Name: "eth0", Type: "ethernet", Up: true,
		Carrier: true, OperState: "up", MTU: 1500}
	src.Push(watchers.Snapshot{Links: []watchers.Link{eth0}})
	src.Update(func(s *watchers.Snapshot) {
		s.Links[0].Carrier = false
		s.Addrs = append(s.Addrs, watchers.Addr{Index: 2,
			Prefix:       netip.MustParsePrefix("10.0.0.1/24"),
			PreferredLft: watchers.Forever, ValidLft: watchers.Forever})
	})

	got := <-src.C()
	if got.Seq != 2 {
		t.Errorf("got snapshot %d, want the latest, 2", got.Seq)
	}
	want := "link 2 eth0 type ethernet up operstate up mtu 1500\n" +
		"addr 2 10.0.0.1/24 scope 0 lft forever forever\n"
	if diff := cmp.Diff(want, got.String()); diff != "" {
		t.Errorf("unexpected snapshot (-want +got):\n%s", diff)
	}

	cancel()
	if _, ok := <-src.C(); ok {
		t.Error("channel still open after the context ended")
	}
	src.Push(watchers.Snapshot{}) // must not panic on a closed channel
}
