package pmtest_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

// A step is one operation of the drift guard, run on both kernels; it
// returns what the operation returned, as text.
type step struct {
	name string
	do   func(k pm.Kernel) (string, error)
}

func ep(addr string, id uint8, port uint16, flags pm.Flags,
	ifindex int32) pm.Endpoint {
	return pm.Endpoint{ID: id, Addr: netip.MustParseAddr(addr), Port: port,
		Flags: flags, Ifindex: ifindex}
}

func add(e pm.Endpoint) step {
	return step{"add " + e.String(), func(k pm.Kernel) (string, error) {
		got, err := k.AddEndpoint(e)
		if err != nil {
			return "", err
		}

		return got.String(), nil
	}}
}

// fill adds plain endpoints 10.1.9.1, 10.1.9.2... until the table has n.
func fill(n int) step {
	return step{fmt.Sprintf("fill to %d", n), func(k pm.Kernel) (string, error) {
		eps, err := k.Endpoints()
		if err != nil {
			return "", err
		}

		var ids []string
		for i := len(eps); i < n; i++ {
			a := netip.AddrFrom4([4]byte{10, 1, 9, byte(i + 1)})
			got, err := k.AddEndpoint(pm.Endpoint{Addr: a})
			if err != nil {
				return strings.Join(ids, " "), err
			}
			ids = append(ids, fmt.Sprint(got.ID))
		}

		return strings.Join(ids, " "), nil
	}}
}

func del(id uint8, addr string) step {
	var a netip.Addr
	if addr != "" {
		a = netip.MustParseAddr(addr)
	}

	return step{fmt.Sprintf("delete id %d %s", id, addr),
		func(k pm.Kernel) (string, error) {
			return "", k.DeleteEndpoint(id, a)
		}}
}

func setFlags(e pm.Endpoint) step {
	return step{"change " + e.String(), func(k pm.Kernel) (string, error) {
		return "", k.SetFlags(e)
	}}
}

func flush() step {
	return step{"flush", func(k pm.Kernel) (string, error) {
		return "", k.Flush()
	}}
}

func limits(subflows, accepted uint32) step {
	l := pm.Limits{Subflows: subflows, AddAddrAccepted: accepted}

	return step{"limits " + l.String(), func(k pm.Kernel) (string, error) {
		if err := k.SetLimits(l); err != nil {
			return "", err
		}
		got, err := k.Limits()

		return got.String(), err
	}}
}

// crosscheckSteps cover KERNEL-MPTCP-PM.md §4 and §8: ids with and without
// explicit values, their reuse and wrap, duplicates and ports, the cap, the
// flags change by id and by address, and the limits. Implicit endpoints
// need real traffic and are left to the unit tests.
func crosscheckSteps() []step {
	const (
		S, F, B, FM = pm.FlagSignal, pm.FlagSubflow, pm.FlagBackup,
			pm.FlagFullmesh
	)

	return []step{
		add(ep("10.1.0.1", 0, 0, F, 1)),
		add(ep("10.1.0.2", 0, 0, S, 0)),
		add(ep("10.1.0.1", 0, 0, F, 0)),
		add(ep("10.1.0.1", 0, 0, S, 0)),
		add(ep("10.1.0.3", 2, 0, 0, 0)),
		add(ep("10.1.0.3", 50, 0, B, 0)),
		add(ep("10.1.0.4", 0, 0, 0, 0)),
		del(51, ""),
		del(50, ""),
		add(ep("10.1.0.5", 0, 0, F, 0)),
		del(2, ""),
		add(ep("10.1.0.2", 0, 0, S, 0)),
		del(77, ""),
		del(0, "10.1.0.1"),
		del(0, ""),
		add(ep("10.1.0.9", 0, 5000, S, 0)),
		add(ep("10.1.0.9", 0, 0, F, 0)),
		add(ep("10.1.0.9", 0, 5000, S, 0)),
		add(ep("10.1.0.9", 0, 5001, S|B, 0)),
		add(ep("10.1.0.9", 0, 5002, S|F, 0)),
		add(ep("10.1.0.6", 0, 0, S|FM, 0)),
		add(ep("10.1.0.6", 0, 0, F|pm.FlagImplicit, 0)),
		add(ep("2001:db8::1", 0, 0, F|FM, 0)),
		setFlags(pm.Endpoint{ID: 1, Flags: B | FM}),
		setFlags(ep("10.1.0.1", 0, 0, B, 0)),
		setFlags(ep("10.1.0.1", 0, 3000, FM|S, 0)),
		setFlags(ep("10.1.0.2", 0, 0, FM, 0)),
		setFlags(ep("10.1.0.9", 0, 5001, 0, 0)),
		setFlags(ep("10.1.0.9", 0, 5009, B, 0)),
		setFlags(ep("10.1.0.9", 0, 0, B, 0)),
		setFlags(ep("10.1.0.8", 0, 0, B, 0)),
		setFlags(pm.Endpoint{ID: 99, Flags: B}),
		fill(8),
		add(ep("10.1.0.7", 0, 0, F, 0)),
		add(ep("10.1.0.1", 0, 0, F, 0)),
		add(ep("10.1.0.7", 1, 0, F, 0)),
		add(ep("10.1.0.7", 200, 0, F, 0)),
		del(52, ""),
		add(ep("10.1.0.7", 0, 0, F, 0)),
		flush(),
		add(ep("10.1.0.1", 0, 0, F, 0)),
		add(ep("10.1.0.2", 255, 0, S, 0)),
		add(ep("10.1.0.3", 0, 0, 0, 0)),
		add(ep("10.1.0.4", 0, 0, 0x40|F, 0)),
		add(ep("10.1.0.5", 0, 0, pm.FlagLaminar, 0)),
		del(2, ""),
		add(ep("10.1.0.6", 0, 0, 0, 0)),
		limits(3, 1),
		limits(9, 1),
		limits(1, 9),
		limits(0, 8),
		flush(),
		add(ep("10.1.0.1", 0, 0, F, 0)),
	}
}

// TestCrosscheck is the drift guard: the fake must answer every step as a
// real 6.18 kernel does, with the same ids, errnos, messages and table.
func TestCrosscheck(t *testing.T) {
	ns := nstest.New(t, "pmx")
	// Port endpoints need a local address for their listener.
	ns.IP("addr", "add", "10.1.0.9/32", "dev", "lo")

	real, err := pm.Dial(&pm.Config{NetNS: ns.Path()})
	if err != nil {
		t.Fatalf("dialing the namespace's path manager: %v", err)
	}
	t.Cleanup(func() { real.Close() })

	fake := pmtest.New()
	fake.SetIfnames(map[int32]string{1: "lo"})
	compareState(t, "start", ns, fake, real)

	for i, s := range crosscheckSteps() {
		name := fmt.Sprintf("step %d %s", i, s.name)
		wantOut, wantErr := s.do(real)
		gotOut, gotErr := s.do(fake)
		if wantOut != gotOut {
			t.Errorf("%s: fake returned %q, kernel %q", name, gotOut, wantOut)
		}
		if w, g := errText(wantErr), errText(gotErr); w != g {
			t.Errorf("%s: fake error %q, kernel %q", name, g, w)
		}
		t.Logf("%s: %q %s", name, wantOut, errText(wantErr))
		compareState(t, name, ns, fake, real)
	}
}

// compareState compares the fake's rendering with the kernel's table, read
// by the client, and with iproute2's own output.
func compareState(t *testing.T, name string, ns *nstest.NS,
	fake *pmtest.Kernel, real *pm.Client) {
	t.Helper()
	eps, err := real.Endpoints()
	if err != nil {
		t.Fatalf("%s: dumping the kernel's endpoints: %v", name, err)
	}
	l, err := real.Limits()
	if err != nil {
		t.Fatalf("%s: reading the kernel's limits: %v", name, err)
	}

	var b strings.Builder
	iproute2 := true
	for _, e := range eps {
		b.WriteString(e.Format(func(int32) string { return "lo" }) + " \n")
		// iproute2 6.1 prints these as rawflags.
		iproute2 = iproute2 && !e.Flags.Has(pm.FlagLaminar) &&
			!e.Flags.Has(pm.FlagImplicit)
	}
	kernel := b.String() + l.String() + " \n"
	if got := fake.State(); got != kernel {
		t.Errorf("%s: fake state\n%skernel state\n%s", name, got, kernel)
	}

	if !iproute2 {
		return
	}
	shown := ns.IP("mptcp", "endpoint", "show") +
		ns.IP("mptcp", "limits", "show")
	if got := fake.State(); got != shown {
		t.Errorf("%s: fake state\n%sip mptcp shows\n%s", name, got, shown)
	}
}

// errText is what the drift guard compares of an error: the errno and the
// extended-ack text of a kernel refusal, the reason of a local one.
func errText(err error) string {
	if err == nil {
		return ""
	}

	var pe *pm.Error
	if !errors.As(err, &pe) {
		return "not a *pm.Error: " + err.Error()
	}
	if pe.Local {
		return "local: " + pe.Err.Error()
	}

	var errno unix.Errno
	if !errors.As(pe.Err, &errno) {
		return "no errno: " + err.Error()
	}

	return fmt.Sprintf("%s (%d): %s", unix.ErrnoName(errno), int(errno),
		pe.Message)
}

// TestCrosscheckReconcile drives the same desired states through the
// reconciler on both kernels and requires the same tables, ids included,
// and the same ops.
func TestCrosscheckReconcile(t *testing.T) {
	ns := nstest.New(t, "pmr")
	ns.IP("addr", "add", "198.51.100.10/32", "dev", "lo")

	real, err := pm.Dial(&pm.Config{NetNS: ns.Path()})
	if err != nil {
		t.Fatalf("dialing the namespace's path manager: %v", err)
	}
	t.Cleanup(func() { real.Close() })
	fake := pmtest.New()
	fake.SetIfnames(map[int32]string{1: "lo"})

	const S, F, B = pm.FlagSignal, pm.FlagSubflow, pm.FlagBackup
	states := [][]pm.Endpoint{
		{ep("198.51.100.10", 0, 0, F, 1)},
		{ep("198.51.100.10", 0, 0, F, 1), ep("203.0.113.20", 0, 0, F, 0)},
		{ep("198.51.100.10", 0, 0, F|B, 1), ep("203.0.113.20", 0, 0, F, 0)},
		{ep("203.0.113.20", 0, 0, S, 0)},
		{ep("198.51.100.10", 0, 8443, S, 1), ep("203.0.113.20", 0, 0, S, 0)},
		fillState(11),
		{ep("198.51.100.10", 0, 0, F, 1)},
		nil,
	}
	for i, want := range states {
		d := pm.Desired{
			Endpoints: want,
			Stale:     func(pm.Endpoint) bool { return true },
			Limits: func(t []pm.Endpoint) pm.LimitsWant {
				n := uint32(len(t))
				return pm.LimitsWant{Subflows: &n}
			},
		}
		wantRes, wantErr := pm.NewReconciler(real, nil).Reconcile(d)
		gotRes, gotErr := pm.NewReconciler(fake, nil).Reconcile(d)
		if wantErr != nil || gotErr != nil {
			t.Fatalf("state %d: kernel: %v; fake: %v", i, wantErr, gotErr)
		}
		if w, g := opText(wantRes.Applied), opText(gotRes.Applied); w != g {
			t.Errorf("state %d: fake applied\n%skernel applied\n%s", i, g, w)
		}
		t.Logf("state %d:\n%s", i, opText(wantRes.Applied))
		compareState(t, fmt.Sprintf("state %d", i), ns, fake, real)
	}
}

func fillState(n int) []pm.Endpoint {
	var eps []pm.Endpoint
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 20, 0, byte(i + 1)})
		eps = append(eps, pm.Endpoint{Addr: a, Flags: pm.FlagSubflow})
	}

	return eps
}

// opText lists applied ops with the ids the kernel gave.
func opText(ops []pm.Op) string {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.String())
		if o.Kind == pm.OpAdd {
			fmt.Fprintf(&b, " -> id %d", o.Endpoint.ID)
		}
		b.WriteString("\n")
	}

	return b.String()
}
