package pm_test

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

var ifnames = map[int32]string{2: "eth0", 3: "wlan0"}

// countLimits is the limits policy of the reconciler tests: one subflow
// per subflow endpoint, and one ADD_ADDR accepted.
func countLimits(table []pm.Endpoint) pm.LimitsWant {
	n := uint32(0)
	for _, e := range table {
		if e.Flags.Has(pm.FlagSubflow) {
			n++
		}
	}

	return pm.LimitsWant{Subflows: &n, AddAddrAccepted: u32(1)}
}

func everything(pm.Endpoint) bool { return true }

func desired(t testing.TB, lines ...string) pm.Desired {
	return pm.Desired{
		Endpoints: parseEndpoints(t, lines...),
		Stale:     everything,
		Limits:    countLimits,
	}
}

func eleven() []string {
	var s []string
	for i := 1; i <= 11; i++ {
		s = append(s, netip.AddrFrom4([4]byte{10, 20, 0, byte(i)}).String()+" subflow")
	}

	return s
}

// reconcileStates are named desired states, in the order the first pass
// drives them, with the kernel's state expected after each.
var reconcileStates = []struct {
	name    string
	want    []string
	leftOut int
	state   string
}{{
	name: "ethernet",
	want: []string{"198.51.100.10 subflow dev if2"},
	state: "198.51.100.10 id 1 subflow dev eth0 \n" +
		"add_addr_accepted 1 subflows 1 \n",
}, {
	name: "ethernet and wifi",
	want: []string{"198.51.100.10 subflow dev if2", "203.0.113.20 subflow dev if3"},
	state: "198.51.100.10 id 1 subflow dev eth0 \n" +
		"203.0.113.20 id 2 subflow dev wlan0 \n" +
		"add_addr_accepted 1 subflows 2 \n",
}, {
	name: "wifi as backup",
	want: []string{"198.51.100.10 subflow dev if2", "203.0.113.20 subflow backup dev if3"},
	state: "198.51.100.10 id 1 subflow dev eth0 \n" +
		"203.0.113.20 id 2 subflow backup dev wlan0 \n" +
		"add_addr_accepted 1 subflows 2 \n",
}, {
	name: "wifi only",
	want: []string{"203.0.113.20 subflow backup dev if3"},
	state: "203.0.113.20 id 2 subflow backup dev wlan0 \n" +
		"add_addr_accepted 1 subflows 1 \n",
}, {
	name: "server",
	want: []string{"198.51.100.10 port 8443 signal dev if2", "203.0.113.20 signal dev if3"},
	state: "198.51.100.10 port 8443 id 3 signal dev eth0 \n" +
		"203.0.113.20 id 4 signal dev wlan0 \n" +
		"add_addr_accepted 1 subflows 0 \n",
}, {
	name:    "eleven addresses",
	want:    eleven(),
	leftOut: 3,
	state: "10.20.0.1 id 5 subflow \n10.20.0.2 id 6 subflow \n" +
		"10.20.0.3 id 7 subflow \n10.20.0.4 id 8 subflow \n" +
		"10.20.0.5 id 9 subflow \n10.20.0.6 id 10 subflow \n" +
		"10.20.0.7 id 11 subflow \n10.20.0.8 id 12 subflow \n" +
		"add_addr_accepted 1 subflows 8 \n",
}, {
	name:  "nothing",
	state: "add_addr_accepted 1 subflows 0 \n",
}}

var idField = regexp.MustCompile(` id \d+`)

// withoutIDs is a state with the ids left out and the lines sorted: ids
// depend on the order of the states, the rest must not.
func withoutIDs(state string) string {
	lines := strings.Split(idField.ReplaceAllString(state, ""), "\n")
	slices.Sort(lines)

	return strings.Join(lines, "\n")
}

// reconcileTwice reconciles k toward d and checks that a second reconcile
// with the same d reads the kernel once and changes nothing.
func reconcileTwice(t *testing.T, k *pmtest.Kernel, d pm.Desired) pm.Result {
	t.Helper()
	r := pm.NewReconciler(k, nil)
	res, err := r.Reconcile(d)
	if err != nil {
		t.Fatalf("reconciling: %v", err)
	}

	k.ResetCounts()
	again, err := r.Reconcile(d)
	if err != nil {
		t.Fatalf("reconciling again: %v", err)
	}
	if len(again.Plan.Ops) != 0 {
		t.Errorf("second reconcile planned %q", formatOps(again.Plan.Ops))
	}
	want := pmtest.Counts{Dumps: 1, LimitReads: 1}
	if diff := cmp.Diff(want, k.Counts()); diff != "" {
		t.Errorf("unexpected calls of the second reconcile (-want +got):\n%s", diff)
	}

	return res
}

func TestReconcileStates(t *testing.T) {
	k := pmtest.New()
	k.SetIfnames(ifnames)
	for _, s := range reconcileStates {
		res := reconcileTwice(t, k, desired(t, s.want...))
		if diff := cmp.Diff(s.state, k.State()); diff != "" {
			t.Errorf("%s: unexpected kernel state (-want +got):\n%s", s.name, diff)
		}
		if len(res.Plan.LeftOut) != s.leftOut {
			t.Errorf("%s: %d left out, want %d", s.name, len(res.Plan.LeftOut), s.leftOut)
		}
	}

	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		k := pmtest.New()
		k.SetIfnames(ifnames)
		for _, i := range rng.Perm(len(reconcileStates)) {
			s := reconcileStates[i]
			reconcileTwice(t, k, desired(t, s.want...))
			want, got := withoutIDs(s.state), withoutIDs(k.State())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("seed %d, %s: unexpected kernel state (-want +got):\n%s",
					seed, s.name, diff)
			}
		}
	}
}

func TestReconcileFewestOps(t *testing.T) {
	k := pmtest.New()
	k.SetIfnames(ifnames)
	reconcileTwice(t, k, desired(t,
		"198.51.100.10 subflow dev if2", "203.0.113.20 subflow dev if3"))

	k.ResetCounts()
	d := desired(t, "198.51.100.10 subflow backup dev if2", "203.0.113.20 subflow dev if3")
	if _, err := pm.NewReconciler(k, nil).Reconcile(d); err != nil {
		t.Fatal(err)
	}

	// One dump, one limits read, one SET_FLAGS.
	want := pmtest.Counts{Dumps: 1, LimitReads: 1, SetFlags: 1}
	if diff := cmp.Diff(want, k.Counts()); diff != "" {
		t.Errorf("unexpected calls (-want +got):\n%s", diff)
	}
}

func TestReconcileForeignEdits(t *testing.T) {
	k := pmtest.New()
	d := pm.Desired{Endpoints: parseEndpoints(t, "10.0.0.1 subflow", "10.0.0.2 subflow")}
	reconcileTwice(t, k, d)

	// Someone flushes the table and adds an endpoint of their own: the
	// next reconcile restores ours and keeps theirs (Stale is nil).
	if err := k.Other().Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Other().AddEndpoint(parseEndpoint(t, "10.9.9.9 signal")); err != nil {
		t.Fatal(err)
	}
	reconcileTwice(t, k, d)
	want := "10.9.9.9 id 1 signal \n10.0.0.1 id 2 subflow \n10.0.0.2 id 3 subflow \n"
	if diff := cmp.Diff(want, k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}

	// Someone adds one of ours between our dump and our add: our add
	// fails with EEXIST, naming the endpoint, and the next reconcile
	// has nothing to do.
	if err := k.Other().Flush(); err != nil {
		t.Fatal(err)
	}
	k.OnCall(func(method string) {
		if method == "AddEndpoint" {
			k.OnCall(nil)
			k.Other().AddEndpoint(parseEndpoint(t, "10.0.0.1 subflow"))
		}
	})
	_, err := pm.NewReconciler(k, nil).Reconcile(d)
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "10.0.0.1") {
		t.Errorf("got error %v, want EEXIST naming 10.0.0.1", err)
	}
	reconcileTwice(t, k, d)
}

func TestReconcileLeavesOtherLimitAlone(t *testing.T) {
	k := pmtest.New()
	// Someone raises add_addr_accepted between our read and our write.
	k.OnCall(func(method string) {
		if method == "SetLimitsPartial" {
			k.Other().SetLimits(pm.Limits{Subflows: 2, AddAddrAccepted: 5})
		}
	})
	d := pm.Desired{Limits: func([]pm.Endpoint) pm.LimitsWant {
		return pm.LimitsWant{Subflows: u32(4)}
	}}
	if _, err := pm.NewReconciler(k, nil).Reconcile(d); err != nil {
		t.Fatal(err)
	}

	want := "add_addr_accepted 5 subflows 4 \n"
	if diff := cmp.Diff(want, k.State()); diff != "" {
		t.Errorf("unexpected state (-want +got):\n%s", diff)
	}
}

func TestReconcileRefusals(t *testing.T) {
	k := pmtest.New()
	k.Other().AddEndpoint(parseEndpoint(t, "10.0.0.3 signal"))
	k.Refuse(netip.MustParseAddr("10.0.0.1"), unix.EPERM, "")
	k.Refuse(netip.MustParseAddr("10.0.0.3"), unix.EBUSY, "busy here")

	d := pm.Desired{Endpoints: parseEndpoints(t,
		"10.0.0.1 subflow", "10.0.0.2 subflow", "10.0.0.3 subflow")}
	res, err := pm.NewReconciler(k, nil).Reconcile(d)

	wantErr := "adding endpoint 10.0.0.1: operation not permitted\n" +
		"deleting endpoint 10.0.0.3 id 1: busy here: device or resource busy\n" +
		"add 10.0.0.3 subflow: not attempted: the delete it needs failed"
	if err == nil || err.Error() != wantErr {
		t.Errorf("got error\n%v\nwant\n%s", err, wantErr)
	}
	if !errors.Is(err, unix.EPERM) || !errors.Is(err, pm.ErrSkipped) {
		t.Errorf("error %v is not EPERM and ErrSkipped", err)
	}
	if diff := cmp.Diff([]string{"add 10.0.0.2 subflow"}, formatOps(res.Applied)); diff != "" {
		t.Errorf("unexpected applied ops (-want +got):\n%s", diff)
	}
	if len(res.Failed) != 3 {
		t.Errorf("got %d failed ops, want 3", len(res.Failed))
	}
	want := "10.0.0.3 id 1 signal \n10.0.0.2 id 2 subflow \n"
	if diff := cmp.Diff(want, k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}
}

// TestReconcileDroppedFlags drives a kernel that drops LAMINAR on add, as
// one that masks unknown flags but predates LAMINAR does: the first
// reconcile adds once and records the flag, the next ones change nothing,
// and the drop is logged once.
func TestReconcileDroppedFlags(t *testing.T) {
	k := pmtest.New()
	k.DropFlags(pm.FlagLaminar)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := pm.NewReconciler(k, log)

	d := pm.Desired{Endpoints: parseEndpoints(t,
		"10.0.0.1 signal laminar", "10.0.0.2 subflow")}
	if _, err := r.Reconcile(d); err != nil {
		t.Fatal(err)
	}
	want := pmtest.Counts{Dumps: 1, LimitReads: 1, Adds: 2}
	if diff := cmp.Diff(want, k.Counts()); diff != "" {
		t.Errorf("unexpected calls of the first reconcile (-want +got):\n%s", diff)
	}
	if got := r.Unsupported(); got != pm.FlagLaminar {
		t.Errorf("Unsupported() = %q, want laminar", got)
	}

	k.ResetCounts()
	res, err := r.Reconcile(d)
	if err != nil || len(res.Plan.Ops) != 0 {
		t.Errorf("second reconcile: %v, ops %q", err, formatOps(res.Plan.Ops))
	}

	// Another laminar endpoint is added once, without the flag.
	d.Endpoints = append(d.Endpoints, parseEndpoint(t, "10.0.0.3 signal laminar"))
	for range 2 {
		if _, err := r.Reconcile(d); err != nil {
			t.Fatal(err)
		}
	}
	want = pmtest.Counts{Dumps: 3, LimitReads: 3, Adds: 1}
	if diff := cmp.Diff(want, k.Counts()); diff != "" {
		t.Errorf("unexpected calls of the next reconciles (-want +got):\n%s", diff)
	}

	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("got %d warnings, want 1:\n%s", n, logs.String())
	}
	for _, s := range []string{"addr=10.0.0.1", "flag=laminar"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("warning does not say %s:\n%s", s, logs.String())
		}
	}
}
