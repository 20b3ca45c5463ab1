package pmtest_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// mustAdd adds e through Other, as a test's setup.
func mustAdd(t *testing.T, k *pmtest.Kernel, e pm.Endpoint) pm.Endpoint {
	t.Helper()
	got, err := k.Other().AddEndpoint(e)
	if err != nil {
		t.Fatalf("adding %s: %v", e, err)
	}

	return got
}

func mustImplicit(t *testing.T, k *pmtest.Kernel, a string) pm.Endpoint {
	t.Helper()
	got, err := k.AddImplicit(addr(a))
	if err != nil {
		t.Fatalf("adding implicit %s: %v", a, err)
	}

	return got
}

func TestImplicit(t *testing.T) {
	tests := []struct {
		name    string
		fill    int // plain endpoints added first
		add     pm.Endpoint
		wantErr error
		want    string
	}{{
		name: "replaced keeping its id",
		add:  ep("10.2.0.1", 0, 0, pm.FlagSubflow, 3),
		want: "10.2.0.1 id 1 subflow dev eth1 \n",
	}, {
		name:    "explicit id refused",
		add:     ep("10.2.0.1", 7, 0, pm.FlagSubflow, 0),
		wantErr: unix.EINVAL,
		want:    "10.2.0.1 id 1 implicit \n",
	}, {
		name:    "explicit id in use",
		add:     ep("10.2.0.1", 1, 0, pm.FlagSubflow, 0),
		wantErr: unix.EBUSY,
		want:    "10.2.0.1 id 1 implicit \n",
	}, {
		name:    "at the cap",
		fill:    7,
		add:     ep("10.2.0.1", 0, 0, pm.FlagSubflow, 0),
		wantErr: unix.ERANGE,
	}, {
		name:    "at the cap with an explicit id",
		fill:    7,
		add:     ep("10.2.0.1", 30, 0, pm.FlagSubflow, 0),
		wantErr: unix.EINVAL,
	}, {
		name: "a port endpoint is another key",
		add:  ep("10.2.0.1", 0, 4000, pm.FlagSignal, 0),
		want: "10.2.0.1 id 1 implicit \n10.2.0.1 port 4000 id 2 signal \n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := pmtest.New()
			k.SetIfnames(map[int32]string{3: "eth1"})
			mustImplicit(t, k, "10.2.0.1")
			for i := range tt.fill {
				mustAdd(t, k, pm.Endpoint{
					Addr: netip.AddrFrom4([4]byte{10, 3, 0, byte(i + 1)})})
			}
			before := k.String()

			_, err := k.AddEndpoint(tt.add)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("adding %s: got error %v, want %v", tt.add, err, tt.wantErr)
			}
			want := tt.want
			if want == "" {
				want = before
			}
			if diff := cmp.Diff(want, k.String()); diff != "" {
				t.Errorf("unexpected table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImplicitAddresses(t *testing.T) {
	k := pmtest.New()
	mustAdd(t, k, ep("10.2.0.5", 0, 0, pm.FlagSubflow, 0))
	mustAdd(t, k, ep("10.2.0.6", 0, 6000, pm.FlagSignal, 0))

	// An address with an endpoint keeps it; a port endpoint does not
	// count for a subflow's address, which has no port of its own.
	got := mustImplicit(t, k, "10.2.0.5")
	if got.ID != 1 {
		t.Errorf("implicit for 10.2.0.5 got id %d, want the endpoint's 1", got.ID)
	}
	mustImplicit(t, k, "10.2.0.6")

	err := k.SetFlags(pm.Endpoint{ID: 3, Flags: pm.FlagFullmesh})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("fullmesh on an implicit endpoint: got %v, want EINVAL", err)
	}
	if err := k.SetFlags(pm.Endpoint{ID: 3, Flags: pm.FlagBackup}); err != nil {
		t.Errorf("backup on an implicit endpoint: %v", err)
	}

	want := "10.2.0.5 id 1 subflow \n" +
		"10.2.0.6 port 6000 id 2 signal \n" +
		"10.2.0.6 id 3 backup implicit \n"
	if diff := cmp.Diff(want, k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}
}

func TestIDWrap(t *testing.T) {
	k := pmtest.New()
	mustAdd(t, k, ep("10.4.0.1", 254, 0, 0, 0))
	mustAdd(t, k, ep("10.4.0.2", 0, 0, 0, 0))
	mustAdd(t, k, ep("10.4.0.3", 0, 0, 0, 0))
	mustAdd(t, k, ep("10.4.0.4", 0, 0, 0, 0))

	want := "10.4.0.3 id 1 \n10.4.0.4 id 2 \n10.4.0.1 id 254 \n10.4.0.2 id 255 \n"
	if diff := cmp.Diff(want, k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}
}

func TestRefuseAndCounts(t *testing.T) {
	k := pmtest.New()
	a := mustAdd(t, k, ep("10.5.0.1", 0, 0, pm.FlagSubflow, 0))
	k.Refuse(a.Addr, unix.EPERM, "")

	err := k.DeleteEndpoint(a.ID, netip.Addr{})
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("deleting a refused address: got %v, want EPERM", err)
	}
	wantMsg := "deleting endpoint 10.5.0.1 id 1: operation not permitted"
	if err == nil || err.Error() != wantMsg {
		t.Errorf("got error %q, want %q", err, wantMsg)
	}
	if _, err := k.AddEndpoint(ep("10.5.0.2", 0, 0, 0, 0)); err != nil {
		t.Errorf("adding another address: %v", err)
	}
	k.Refuse(a.Addr, 0, "")
	if err := k.SetFlags(pm.Endpoint{ID: a.ID, Flags: pm.FlagBackup}); err != nil {
		t.Errorf("changing after the refusal was lifted: %v", err)
	}
	if _, err := k.Endpoints(); err != nil {
		t.Fatal(err)
	}
	err = k.SetLimits(pm.Limits{Subflows: 9})
	wantMsg = "setting limits: limit greater than maximum (8)"
	var le *pm.LimitError
	if err == nil || err.Error() != wantMsg || !errors.As(err, &le) ||
		le.Value != 9 || !errors.Is(err, pm.ErrInvalid) {
		t.Errorf("limits above 8: got %v, want %q (LimitError 9)", err, wantMsg)
	}

	want := pmtest.Counts{Dumps: 1, Adds: 1, Deletes: 1, SetFlags: 1,
		SetLimits: 1}
	if diff := cmp.Diff(want, k.Counts()); diff != "" {
		t.Errorf("unexpected counts (-want +got):\n%s", diff)
	}
	if got := k.Counts().Changes(); got != 4 {
		t.Errorf("got %d changes, want 4", got)
	}
	wantState := "10.5.0.1 id 1 subflow backup \n10.5.0.2 id 2 \n" +
		"add_addr_accepted 0 subflows 2 \n"
	if diff := cmp.Diff(wantState, k.State()); diff != "" {
		t.Errorf("unexpected state (-want +got):\n%s", diff)
	}
}

func TestOnCall(t *testing.T) {
	k := pmtest.New()
	var calls []string
	k.OnCall(func(method string) {
		calls = append(calls, method)
		if method == "AddEndpoint" {
			// Someone else flushes between our dump and our add.
			if err := k.Other().Flush(); err != nil {
				t.Error(err)
			}
		}
	})
	mustAdd(t, k, ep("10.6.0.1", 0, 0, 0, 0))
	if _, err := k.Endpoints(); err != nil {
		t.Fatal(err)
	}
	got, err := k.AddEndpoint(ep("10.6.0.2", 0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 1 {
		t.Errorf("add after a foreign flush got id %d, want 1", got.ID)
	}

	if diff := cmp.Diff([]string{"Endpoints", "AddEndpoint"}, calls); diff != "" {
		t.Errorf("unexpected calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("10.6.0.2 id 1 \n", k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}
}

func TestDropFlags(t *testing.T) {
	k := pmtest.New()
	k.DropFlags(pm.FlagLaminar | pm.FlagFullmesh)

	got, err := k.AddEndpoint(ep("10.7.0.1", 0, 0,
		pm.FlagSignal|pm.FlagLaminar, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Flags != pm.FlagSignal {
		t.Errorf("add returned flags %q, want signal", got.Flags)
	}
	mustAdd(t, k, ep("10.7.0.2", 0, 0, pm.FlagSubflow|pm.FlagFullmesh, 0))
	err = k.SetFlags(pm.Endpoint{ID: 2, Flags: pm.FlagBackup | pm.FlagFullmesh})
	if err != nil {
		t.Fatal(err)
	}

	want := "10.7.0.1 id 1 signal \n10.7.0.2 id 2 subflow backup \n"
	if diff := cmp.Diff(want, k.String()); diff != "" {
		t.Errorf("unexpected table (-want +got):\n%s", diff)
	}

	k.DropFlags(0)
	mustAdd(t, k, ep("10.7.0.3", 0, 0, pm.FlagSignal|pm.FlagLaminar, 0))
	if s := k.String(); !strings.Contains(s, "10.7.0.3 id 3 signal laminar") {
		t.Errorf("laminar dropped after DropFlags(0):\n%s", s)
	}
}
