package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

// eth0Key is the subflow key of laptop()'s eth0 address.
var eth0Key = watchersKey{Addr: netip.MustParseAddr("192.0.2.10"),
	Ifindex: 2}

const reAddLine = `re_added="re-add 192.0.2.10 dev eth0 ` +
	`(its subflows failed: the kernel does not retry)"`

// withSubflows returns laptop() with conns MPTCP connections and the
// subflows from eth0 counted as n.
func withSubflows(conns int, n watchersCount) *snap {
	s := laptop()
	s.MPTCP.Connections = conns
	s.MPTCP.Subflows = map[watchersKey]watchersCount{eth0Key: n}

	return s
}

// wantRejoin checks that the kernel is left alone for just under delay,
// then eth0 is deleted and added again.
func (h *harness) wantRejoin(step string, delay time.Duration) {
	h.t.Helper()
	before := h.k.Counts()
	time.Sleep(delay - time.Millisecond)
	synctest.Wait()
	if c := h.k.Counts(); c.Adds != before.Adds ||
		c.Deletes != before.Deletes {
		h.t.Fatalf("%s: re-added before %v\nlog:\n%s", step, delay,
			h.log.take())
	}

	time.Sleep(2 * time.Millisecond)
	synctest.Wait()
	if c := h.k.Counts(); c.Adds != before.Adds+1 ||
		c.Deletes != before.Deletes+1 {
		h.t.Fatalf("%s: eth0 not re-added after %v: %+v, was %+v\n"+
			"log:\n%s", step, delay, c, before, h.log.take())
	}
	h.wantNoIDs(step, docked)
}

// TestRejoin checks that an endpoint whose subflows all failed is added
// again after 1 s, again 2 s after the next failure, and no more once a
// subflow from it works.
func TestRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(withSubflows(1, watchersCount{}))
		h.want("docked", s1State)
		h.log.take()

		h.send(withSubflows(1, watchersCount{Closed: 1, Failed: 1}))
		st := h.e.Status()
		want := []RejoinStatus{{Endpoint: "192.0.2.10 subflow dev eth0",
			Reason: rejoinWhy, Due: time.Now().Add(time.Second)}}
		if diff := cmp.Diff(want, st.Rejoins); diff != "" {
			t.Errorf("unexpected rejoins in status (-want +got):\n%s", diff)
		}
		h.wantRejoin("first failure", time.Second)
		log := h.log.take()
		if !strings.Contains(log, reAddLine) ||
			!strings.Contains(log, "trigger=rejoin") {
			t.Errorf("no reconciled line with the re-add:\n%s", log)
		}
		if n := count(log, `msg=reconciled`); n != 1 {
			t.Errorf("want one reconciled line, got %d:\n%s", n, log)
		}
		if st := h.e.Status(); len(st.Rejoins) != 0 {
			t.Errorf("rejoin still pending after the re-add: %+v",
				st.Rejoins)
		}

		h.send(withSubflows(1, watchersCount{Closed: 2, Failed: 2}))
		h.wantRejoin("second failure", 2*time.Second)

		h.send(withSubflows(1,
			watchersCount{Established: 1, Closed: 2, Failed: 2}))
		h.log.take()
		before := h.k.State()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if diff := cmp.Diff(before, h.k.State()); diff != "" {
			t.Errorf("kernel changed after a subflow worked (-want +got):"+
				"\n%s", diff)
		}
		if log := h.log.take(); strings.Contains(log, "re-add") {
			t.Errorf("re-added after a subflow worked:\n%s", log)
		}
	})
}

// TestRejoinBackoff checks that a path that never works is tried again
// with a doubling delay that settles at RetryMax.
func TestRejoinBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(withSubflows(1, watchersCount{}))
		delays := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
		for i, d := range delays {
			n := i + 1
			h.send(withSubflows(1, watchersCount{Closed: n, Failed: n}))
			h.wantRejoin(fmt.Sprintf("failure %d", n), d*time.Second)
		}
	})
}

// TestRejoinNot checks the subflow failures that make no re-add.
func TestRejoinNot(t *testing.T) {
	foreign := pm.Endpoint{Addr: netip.MustParseAddr("203.0.113.5"),
		Flags: pm.FlagSubflow, Ifindex: 4}
	tests := []struct {
		name    string
		foreign bool // the failing address is someone else's endpoint
		conns   int
		n       watchersCount
	}{
		{"no connections", false, 0, watchersCount{Closed: 1, Failed: 1}},
		{"one established", false, 1,
			watchersCount{Established: 1, Closed: 1, Failed: 1}},
		{"closed without error", false, 1, watchersCount{Closed: 1}},
		{"foreign endpoint", true, 1, watchersCount{Closed: 1, Failed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := pmtest.New()
				if _, err := k.AddEndpoint(foreign); err != nil {
					t.Fatalf("adding foreign endpoint: %v", err)
				}
				h := newHarness(t, k, Config{})
				h.send(withSubflows(tt.conns, watchersCount{}))
				before := h.k.State()

				s := withSubflows(tt.conns, tt.n)
				if tt.foreign {
					s.MPTCP.Subflows = map[watchersKey]watchersCount{
						{Addr: foreign.Addr, Ifindex: 4}: tt.n,
					}
				}
				h.send(s)
				time.Sleep(10 * time.Minute)
				synctest.Wait()
				if diff := cmp.Diff(before, h.k.State()); diff != "" {
					t.Errorf("unexpected kernel change (-want +got):\n%s",
						diff)
				}
				if st := h.e.Status(); len(st.Rejoins) != 0 {
					t.Errorf("unexpected rejoins: %+v", st.Rejoins)
				}
			})
		})
	}
}
