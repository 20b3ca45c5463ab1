package pm_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// dial makes a namespace and a Client in it.
func dial(t *testing.T, tag string) (*nstest.NS, *pm.Client) {
	t.Helper()
	ns := nstest.New(t, tag)
	c, err := pm.DialNetNS(ns.Name)
	if err != nil {
		t.Fatalf("dialing %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })

	return ns, c
}

// ipShow returns `ip mptcp endpoint show` lines without iproute2's trailing
// spaces.
func ipShow(t *testing.T, ns *nstest.NS) string {
	t.Helper()
	var lines []string
	for l := range strings.Lines(ns.IP("mptcp", "endpoint", "show")) {
		lines = append(lines, strings.TrimSpace(l))
	}

	return strings.Join(lines, "\n")
}

func mustAdd(t *testing.T, c *pm.Client, e pm.Endpoint) pm.Endpoint {
	t.Helper()
	got, err := c.AddEndpoint(e)
	if err != nil {
		t.Fatalf("adding %v: %v", e, err)
	}

	return got
}

func ep(addr string, id uint8, f pm.Flags) pm.Endpoint {
	return pm.Endpoint{ID: id, Addr: netip.MustParseAddr(addr), Flags: f}
}

func TestClientAddShownByIproute(t *testing.T) {
	ns, c := dial(t, "add")
	ns.Veth("v1", 11, ns, "v2", 12)
	ns.IP("addr", "add", "10.9.1.1/24", "dev", "v1")

	adds := []pm.Endpoint{
		{Addr: netip.MustParseAddr("10.9.1.1"), Flags: pm.FlagSubflow | pm.FlagBackup, Ifindex: 11},
		{Addr: netip.MustParseAddr("10.9.1.1"), Port: 20001, Flags: pm.FlagSignal},
		{ID: 50, Addr: netip.MustParseAddr("2001:db8::1"), Flags: pm.FlagSubflow | pm.FlagFullmesh},
		{Addr: netip.MustParseAddr("198.51.100.9")},
	}
	want := []pm.Endpoint{
		{ID: 1, Addr: netip.MustParseAddr("10.9.1.1"), Flags: pm.FlagSubflow | pm.FlagBackup, Ifindex: 11},
		{ID: 2, Addr: netip.MustParseAddr("10.9.1.1"), Port: 20001, Flags: pm.FlagSignal},
		{ID: 50, Addr: netip.MustParseAddr("2001:db8::1"), Flags: pm.FlagSubflow | pm.FlagFullmesh},
		{ID: 51, Addr: netip.MustParseAddr("198.51.100.9")},
	}
	var got []pm.Endpoint
	for _, e := range adds {
		got = append(got, mustAdd(t, c, e))
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("unexpected added endpoints (-want +got):\n%s", diff)
	}

	dump, err := c.Endpoints()
	if err != nil {
		t.Fatalf("listing endpoints: %v", err)
	}
	if diff := cmp.Diff(want, dump, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("unexpected dump (-want +got):\n%s", diff)
	}

	wantText := strings.Join([]string{
		"10.9.1.1 id 1 subflow backup dev v1",
		"10.9.1.1 port 20001 id 2 signal",
		"2001:db8::1 id 50 subflow fullmesh",
		"198.51.100.9 id 51",
	}, "\n")
	if diff := cmp.Diff(wantText, ipShow(t, ns)); diff != "" {
		t.Errorf("unexpected ip mptcp endpoint show (-want +got):\n%s", diff)
	}
}

func TestClientReadsWhatIprouteAdds(t *testing.T) {
	ns, c := dial(t, "read")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.1", "id", "5", "subflow", "backup")
	ns.IP("mptcp", "endpoint", "add", "2001:db8::7", "signal")
	ns.IP("mptcp", "endpoint", "add", "10.9.2.2", "id", "255", "subflow", "fullmesh")

	want := []pm.Endpoint{
		ep("10.9.1.1", 5, pm.FlagSubflow|pm.FlagBackup),
		ep("2001:db8::7", 6, pm.FlagSignal),
		ep("10.9.2.2", 255, pm.FlagSubflow|pm.FlagFullmesh),
	}
	got, err := c.Endpoints()
	if err != nil {
		t.Fatalf("listing endpoints: %v", err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("unexpected endpoints (-want +got):\n%s", diff)
	}

	one, err := c.Endpoint(6)
	if err != nil {
		t.Fatalf("getting id 6: %v", err)
	}
	if one != want[1] {
		t.Errorf("getting id 6: got %v, want %v", one, want[1])
	}
}

func TestClientAddErrors(t *testing.T) {
	_, c := dial(t, "adderr")
	mustAdd(t, c, ep("10.9.1.1", 1, pm.FlagSubflow))

	_, err := c.AddEndpoint(ep("10.9.1.1", 0, pm.FlagSignal))
	if !errors.Is(err, unix.EEXIST) {
		t.Errorf("adding a duplicate: got %v, want EEXIST", err)
	}
	want := "adding endpoint 10.9.1.1: too many addresses or duplicate one: -17: file exists"
	if err == nil || err.Error() != want {
		t.Errorf("adding a duplicate: got %q, want %q", err, want)
	}
	var pe *pm.Error
	if !errors.As(err, &pe) || pe.Op != "adding endpoint" || pe.Endpoint.Addr.String() != "10.9.1.1" {
		t.Errorf("adding a duplicate: got %#v, want a *pm.Error naming the endpoint", err)
	}

	if _, err := c.AddEndpoint(ep("10.9.1.2", 1, pm.FlagSignal)); !errors.Is(err, unix.EBUSY) {
		t.Errorf("adding a used id: got %v, want EBUSY", err)
	}
}
