package pm_test

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

// fuzzBytes hands out the fuzzer's bytes, then zeros.
type fuzzBytes []byte

func (b *fuzzBytes) next() byte {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]

	return v
}

var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
	netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.4"),
	netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6"),
	netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8"),
	netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.10"),
	netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	netip.MustParseAddr("::ffff:10.0.0.1"),
}

// fuzzFlags are flag sets the kernel accepts on add; the first three can
// carry a port.
var fuzzFlags = []pm.Flags{
	pm.FlagSignal,
	pm.FlagSignal | pm.FlagBackup,
	pm.FlagSignal | pm.FlagLaminar,
	pm.FlagSubflow,
	pm.FlagSubflow | pm.FlagBackup,
	pm.FlagSubflow | pm.FlagFullmesh,
	pm.FlagSubflow | pm.FlagBackup | pm.FlagFullmesh,
	pm.FlagSignal | pm.FlagSubflow,
	0,
	pm.FlagBackup,
}

// endpoint draws a valid endpoint from b.
func (b *fuzzBytes) endpoint() pm.Endpoint {
	e := pm.Endpoint{
		Addr:    fuzzAddrs[int(b.next())%len(fuzzAddrs)],
		Flags:   fuzzFlags[int(b.next())%len(fuzzFlags)],
		Ifindex: int32(b.next() % 3),
	}
	if p := b.next() % 4; p != 0 && e.Flags&^(pm.FlagBackup|pm.FlagLaminar) == pm.FlagSignal {
		e.Port = 8000 + uint16(p)
	}

	return e
}

// table fills k from b through Other: adds, implicit endpoints, deletes
// and explicit ids, so that ids are scattered. Refusals are expected.
func (b *fuzzBytes) table(k *pmtest.Kernel) {
	other := k.Other()
	for range int(b.next() % 24) {
		switch b.next() % 5 {
		case 0:
			k.AddImplicit(fuzzAddrs[int(b.next())%len(fuzzAddrs)])
		case 1:
			other.DeleteEndpoint(b.next()%16, netip.Addr{})
		case 2:
			e := b.endpoint()
			e.ID = b.next()
			other.AddEndpoint(e)
		default:
			other.AddEndpoint(b.endpoint())
		}
	}
}

func (b *fuzzBytes) desired() pm.Desired {
	var d pm.Desired
	for range int(b.next() % 14) {
		d.Endpoints = append(d.Endpoints, b.endpoint())
	}

	stale := b.next()
	if stale != 0 {
		d.Stale = func(e pm.Endpoint) bool {
			return stale>>(e.Addr.As16()[15]%8)&1 == 1
		}
	}

	sub, acc := uint32(b.next()%10), uint32(b.next()%10)
	if sub <= pm.MaxLimit || acc <= pm.MaxLimit {
		d.Limits = func([]pm.Endpoint) pm.LimitsWant {
			var w pm.LimitsWant
			if sub <= pm.MaxLimit {
				w.Subflows = &sub
			}
			if acc <= pm.MaxLimit {
				w.AddAddrAccepted = &acc
			}

			return w
		}
	}

	return d
}

// FuzzDiff applies the plan of random tables and desired states to the
// fake, which may drop LAMINAR as a kernel older than 6.18 does: it must
// succeed, leave Plan.Table (but for the dropped flag) and Plan.Limits,
// never hold more than MaxEndpoints, and leave nothing for a second
// reconcile by the same Reconciler.
func FuzzDiff(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{20, 3, 0, 3, 1, 0, 3, 1, 3, 1, 0, 3, 2, 3, 0, 1, 9, 4, 3,
		3, 0, 5, 2, 3, 11, 1, 0, 0, 0, 12, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4})
	f.Add([]byte{23, 3, 0, 0, 0, 0, 3, 1, 1, 0, 0, 3, 2, 2, 0, 0, 3, 3, 3,
		0, 0, 3, 4, 4, 0, 0, 3, 5, 5, 0, 0, 3, 6, 6, 0, 0, 3, 7, 7, 0, 0, 0,
		8, 13, 8, 1, 0, 0, 9, 0, 0, 0, 1, 4, 2, 0, 255, 3, 11})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		k := pmtest.New()
		b.table(k)
		d := b.desired()
		var dropped pm.Flags
		if b.next()%2 == 1 {
			dropped = pm.FlagLaminar
		}
		k.DropFlags(dropped)

		r := pm.NewReconciler(k, nil)
		res, err := r.Reconcile(d)
		if err != nil {
			t.Fatalf("reconciling: %v\nplan %q", err, formatOps(res.Plan.Ops))
		}

		got, _ := k.Other().Endpoints()
		if len(got) > pm.MaxEndpoints {
			t.Fatalf("%d endpoints after the plan", len(got))
		}
		want := formatEndpoints(expected(res.Plan.Table, got, dropped))
		if diff := gocmp.Diff(want, formatEndpoints(masked(got, dropped))); diff != "" {
			t.Errorf("table differs from Plan.Table (-want +got):\n%s\nplan %q",
				diff, formatOps(res.Plan.Ops))
		}
		if l, _ := k.Other().Limits(); l != res.Plan.Limits {
			t.Errorf("got limits %s, plan said %s", l, res.Plan.Limits)
		}

		if u := r.Unsupported(); u&^dropped != 0 {
			t.Errorf("Unsupported() = %q, the kernel dropped only %q", u, dropped)
		}

		again, err := r.Reconcile(d)
		if err != nil || len(again.Plan.Ops) != 0 {
			t.Errorf("second reconcile: %v, ops %q", err, formatOps(again.Plan.Ops))
		}
	})
}

// masked returns eps without the flags dropped.
func masked(eps []pm.Endpoint, dropped pm.Flags) []pm.Endpoint {
	out := slices.Clone(eps)
	for i := range out {
		out[i].Flags &^= dropped
	}

	return out
}

// expected fills in the ids Plan.Table leaves to the kernel, taking them
// from got by key, drops the flags dropped, and sorts the result as a dump
// is.
func expected(plan, got []pm.Endpoint, dropped pm.Flags) []pm.Endpoint {
	ids := make(map[pm.Key]uint8, len(got))
	for _, e := range got {
		ids[e.Key()] = e.ID
	}

	var want []pm.Endpoint
	for _, e := range plan {
		if e.ID == 0 {
			e.ID = ids[e.Key()]
		}
		want = append(want, e)
	}
	sortByID(want)

	return masked(want, dropped)
}

func sortByID(eps []pm.Endpoint) {
	slices.SortFunc(eps, func(a, b pm.Endpoint) int {
		return cmp.Compare(a.ID, b.ID)
	})
}
