package pm_test

import (
	"errors"
	"fmt"
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

// addrEq compares netip.Addr values with ==, as go-cmp cannot look inside.
var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

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

	var (
		a4     = netip.MustParseAddr("10.9.1.1")
		a6     = netip.MustParseAddr("2001:db8::1")
		bare   = netip.MustParseAddr("198.51.100.9")
		sub    = pm.FlagSubflow | pm.FlagBackup
		mesh   = pm.FlagSubflow | pm.FlagFullmesh
		signal = pm.FlagSignal
	)
	adds := []pm.Endpoint{
		{Addr: a4, Flags: sub, Ifindex: 11},
		{Addr: a4, Port: 20001, Flags: signal},
		{ID: 50, Addr: a6, Flags: mesh},
		{Addr: bare},
	}
	want := []pm.Endpoint{
		{ID: 1, Addr: a4, Flags: sub, Ifindex: 11},
		{ID: 2, Addr: a4, Port: 20001, Flags: signal},
		{ID: 50, Addr: a6, Flags: mesh},
		{ID: 51, Addr: bare},
	}
	var got []pm.Endpoint
	for _, e := range adds {
		got = append(got, mustAdd(t, c, e))
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("unexpected added endpoints (-want +got):\n%s", diff)
	}

	dump, err := c.Endpoints()
	if err != nil {
		t.Fatalf("listing endpoints: %v", err)
	}
	if diff := cmp.Diff(want, dump, addrEq); diff != "" {
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
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
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

func TestClientEndpointNotFound(t *testing.T) {
	_, c := dial(t, "get")
	_, err := c.Endpoint(3)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("getting a missing id: got %v, want EINVAL", err)
	}
	if want := "getting endpoint id 3: address not found: invalid argument"; err.Error() != want {
		t.Errorf("getting a missing id: got %q, want %q", err, want)
	}

	// The connection must still work: a get must not leave an ACK queued.
	mustAdd(t, c, ep("10.9.1.1", 3, pm.FlagSubflow))
	if got, err := c.Endpoint(3); err != nil || got.Addr.String() != "10.9.1.1" {
		t.Errorf("getting id 3 after an error: got %v, %v", got, err)
	}
	if _, err := c.Limits(); err != nil {
		t.Errorf("getting limits after two gets: %v", err)
	}
}

func TestClientAddRangeAndValidation(t *testing.T) {
	ns, c := dial(t, "range")
	for i := range pm.MaxEndpoints {
		mustAdd(t, c, ep(fmt.Sprintf("10.9.1.%d", i+1), 0, pm.FlagSubflow))
	}
	_, err := c.AddEndpoint(ep("10.9.1.9", 0, pm.FlagSubflow))
	if !errors.Is(err, unix.ERANGE) {
		t.Errorf("adding a 9th endpoint: got %v, want ERANGE", err)
	}

	before := ipShow(t, ns)
	for _, bad := range []pm.Endpoint{
		ep("10.9.2.1", 0, pm.FlagSignal|pm.FlagFullmesh),
		{Addr: netip.MustParseAddr("10.9.2.1"), Port: 1, Flags: pm.FlagSubflow},
		{Addr: netip.MustParseAddr("10.9.2.1"), Port: 1, Flags: pm.FlagSignal | pm.FlagSubflow},
		ep("10.9.2.1", 0, pm.FlagImplicit),
		{Flags: pm.FlagSubflow},
	} {
		_, err := c.AddEndpoint(bad)
		if !errors.Is(err, pm.ErrInvalid) {
			t.Errorf("adding %v: got %v, want ErrInvalid", bad, err)
		}
	}
	if diff := cmp.Diff(before, ipShow(t, ns)); diff != "" {
		t.Errorf("refused adds changed the table (-want +got):\n%s", diff)
	}
}

func TestClientDeleteEndpoint(t *testing.T) {
	ns, c := dial(t, "del")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.1", "id", "1", "subflow")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.2", "id", "2", "signal")

	if err := c.DeleteEndpoint(1, netip.Addr{}); err != nil {
		t.Fatalf("deleting id 1: %v", err)
	}
	if diff := cmp.Diff("10.9.1.2 id 2 signal", ipShow(t, ns)); diff != "" {
		t.Errorf("unexpected table after delete (-want +got):\n%s", diff)
	}

	err := c.DeleteEndpoint(1, netip.Addr{})
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "address not found") {
		t.Errorf("deleting a missing id: got %v, want EINVAL address not found", err)
	}

	err = c.DeleteEndpoint(0, netip.Addr{})
	if !errors.Is(err, pm.ErrInvalid) {
		t.Errorf("deleting id 0 without address: got %v, want ErrInvalid", err)
	}

	// Id 0 with an address acts on connections only (none here).
	if err := c.DeleteEndpoint(0, netip.MustParseAddr("10.9.1.2")); err != nil {
		t.Errorf("deleting id 0 10.9.1.2: %v", err)
	}
	if diff := cmp.Diff("10.9.1.2 id 2 signal", ipShow(t, ns)); diff != "" {
		t.Errorf("id 0 delete changed the table (-want +got):\n%s", diff)
	}
}

func TestClientSetFlags(t *testing.T) {
	ns, c := dial(t, "flags")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.1", "id", "1", "subflow")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.2", "id", "2", "signal")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.3", "id", "3", "subflow", "backup")

	steps := []struct {
		name string
		e    pm.Endpoint
		want string
	}{
		{
			name: "by id, backup and fullmesh",
			e:    ep("0.0.0.0", 1, pm.FlagSubflow|pm.FlagBackup|pm.FlagFullmesh),
			want: "10.9.1.1 id 1 subflow backup fullmesh",
		},
		{
			name: "by address, assigns rather than ors",
			e:    pm.Endpoint{Addr: netip.MustParseAddr("10.9.1.1"), Flags: pm.FlagFullmesh},
			want: "10.9.1.1 id 1 subflow fullmesh",
		},
		{
			name: "role bits are not sent",
			e:    ep("10.9.1.2", 2, pm.FlagSubflow|pm.FlagBackup),
			want: "10.9.1.2 id 2 signal backup",
		},
		{
			name: "clear backup by id",
			e:    pm.Endpoint{ID: 3},
			want: "10.9.1.3 id 3 subflow",
		},
	}
	for _, s := range steps {
		if err := c.SetFlags(s.e); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := c.Endpoint(s.e.ID)
		if s.e.ID == 0 {
			got, err = c.Endpoint(1)
		}
		if err != nil {
			t.Fatalf("%s: reading back: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, got.String()); diff != "" {
			t.Errorf("%s: unexpected endpoint (-want +got):\n%s", s.name, diff)
		}
	}

	err := c.SetFlags(pm.Endpoint{ID: 2, Flags: pm.FlagFullmesh})
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "invalid addr flags") {
		t.Errorf("fullmesh on a signal endpoint: got %v, want EINVAL invalid addr flags", err)
	}
	err = c.SetFlags(pm.Endpoint{ID: 9, Flags: pm.FlagBackup})
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "address not found") {
		t.Errorf("unknown id: got %v, want EINVAL address not found", err)
	}
	if err := c.SetFlags(pm.Endpoint{Flags: pm.FlagBackup}); !errors.Is(err, pm.ErrInvalid) {
		t.Errorf("neither id nor address: got %v, want ErrInvalid", err)
	}
}

func TestClientFlush(t *testing.T) {
	ns, c := dial(t, "flush")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.1", "id", "7", "subflow")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.2", "signal")

	if err := c.Flush(); err != nil {
		t.Fatalf("flushing: %v", err)
	}
	if got := ipShow(t, ns); got != "" {
		t.Errorf("table after flush: %q, want empty", got)
	}

	// FLUSH resets the kernel's id counter.
	if got := mustAdd(t, c, ep("10.9.1.3", 0, pm.FlagSubflow)); got.ID != 1 {
		t.Errorf("first id after flush: %d, want 1", got.ID)
	}
}

func TestClientLimits(t *testing.T) {
	ns, c := dial(t, "limits")
	got, err := c.Limits()
	if err != nil {
		t.Fatalf("getting limits: %v", err)
	}
	if want := (pm.Limits{AddAddrAccepted: 0, Subflows: 2}); got != want {
		t.Errorf("default limits: got %v, want %v", got, want)
	}

	if err := c.SetLimits(pm.Limits{AddAddrAccepted: 3, Subflows: 4}); err != nil {
		t.Fatalf("setting limits: %v", err)
	}
	limitsShow := func() string {
		return strings.TrimSpace(ns.IP("mptcp", "limits", "show"))
	}
	if diff := cmp.Diff("add_addr_accepted 3 subflows 4", limitsShow()); diff != "" {
		t.Errorf("unexpected ip mptcp limits show (-want +got):\n%s", diff)
	}

	five := uint32(5)
	if err := c.SetLimitsPartial(&five, nil); err != nil {
		t.Fatalf("setting subflows only: %v", err)
	}
	if diff := cmp.Diff("add_addr_accepted 3 subflows 5", limitsShow()); diff != "" {
		t.Errorf("unexpected limits after a partial set (-want +got):\n%s", diff)
	}

	ns.IP("mptcp", "limits", "set", "add_addr_accepted", "8", "subflows", "0")
	got, err = c.Limits()
	if err != nil {
		t.Fatalf("getting limits: %v", err)
	}
	if want := (pm.Limits{AddAddrAccepted: 8, Subflows: 0}); got != want {
		t.Errorf("limits set by ip: got %v, want %v", got, want)
	}

	nine := uint32(9)
	for i, err := range []error{
		c.SetLimits(pm.Limits{AddAddrAccepted: 1, Subflows: 9}),
		c.SetLimitsPartial(nil, &nine),
	} {
		if !errors.Is(err, pm.ErrInvalid) {
			t.Errorf("limit 9: got %v, want ErrInvalid", err)
		}
		// The kernel's words, which name no value, as ip prints them.
		want := "setting limits: limit greater than maximum (8)"
		if err == nil || err.Error() != want {
			t.Errorf("limit 9: got error %q, want %q", err, want)
		}
		var le *pm.LimitError
		name := []string{"subflows", "add_addr_accepted"}[i]
		if !errors.As(err, &le) || le.Name != name || le.Value != 9 {
			t.Errorf("limit 9: got %#v, want a LimitError for %s 9", err, name)
		}
	}
	if diff := cmp.Diff("add_addr_accepted 8 subflows 0", limitsShow()); diff != "" {
		t.Errorf("refused limits changed the kernel (-want +got):\n%s", diff)
	}
}

func TestClientFeatures(t *testing.T) {
	ns, c := dial(t, "feat")
	ns.IP("mptcp", "endpoint", "add", "10.9.1.1", "subflow")

	want := pm.Features{
		SetFlags: true, UserspacePM: true, PerOpPolicy: true,
		ListenerEvents: true, MasksUnknownFlags: true, Laminar: true,
		Probed: true,
	}
	if diff := cmp.Diff(want, c.Features()); diff != "" {
		t.Errorf("unexpected features on this kernel (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("10.9.1.1 id 1 subflow", ipShow(t, ns)); diff != "" {
		t.Errorf("the probe left the table changed (-want +got):\n%s", diff)
	}

	// A laminar endpoint keeps its flag on this kernel.
	got := mustAdd(t, c, ep("10.9.1.2", 0, pm.FlagLaminar))
	if got.Flags != pm.FlagLaminar {
		t.Errorf("laminar endpoint read back with flags %v", got.Flags)
	}
}

func TestDialCallerNetNS(t *testing.T) {
	ns := nstest.New(t, "nilcfg")
	err := ns.Do(func() error {
		c, err := pm.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()

		return c.SetLimits(pm.Limits{AddAddrAccepted: 1, Subflows: 1})
	})
	if err != nil {
		t.Fatalf("dialing the thread's namespace: %v", err)
	}

	got := strings.TrimSpace(ns.IP("mptcp", "limits", "show"))
	if got != "add_addr_accepted 1 subflows 1" {
		t.Errorf("Dial(nil) inside %s set %q elsewhere", ns.Name, got)
	}
}

func TestDialNetNSErrors(t *testing.T) {
	for _, name := range []string{"", "../x", "a/b"} {
		if c, err := pm.DialNetNS(name); err == nil {
			c.Close()
			t.Errorf("DialNetNS(%q) succeeded", name)
		}
	}
	if _, err := pm.Dial(&pm.Config{NetNS: "/nonexistent/mpa-none"}); err == nil {
		t.Errorf("dialing a missing namespace file succeeded")
	}
}
