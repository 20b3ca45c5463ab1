package engine

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

// Kernel states of laptop() and laptop().carrierOff(2) once eth0 has
// been deleted and added again at least once, without ids, which grow
// with every add.
const (
	docked = "198.51.100.20 subflow backup dev wlan0 \n" +
		"192.0.2.10 subflow dev eth0 \n" +
		"add_addr_accepted 2 subflows 4 \n"
	undocked = "198.51.100.20 subflow dev wlan0 \n" +
		"add_addr_accepted 2 subflows 3 \n"
)

var endpointID = regexp.MustCompile(` id \d+`)

// wantNoIDs compares the kernel's table, without endpoint ids, and limits.
func (h *harness) wantNoIDs(step, state string) {
	h.t.Helper()
	got := endpointID.ReplaceAllString(h.k.State(), "")
	if got != state {
		h.t.Fatalf("%s: unexpected kernel state:\n%s\nwant:\n%s", step, got,
			state)
	}
}

// toggle returns snapshot i of a dock flapping: eth0 loses carrier at
// even ones and gets it back at odd ones, and the state it leaves.
func toggle(i int) (*snap, string) {
	if i%2 == 0 {
		return laptop().carrierOff(2), undocked
	}

	return laptop(), docked
}

// slowDeletes makes every endpoint delete of k take as long as the
// kernel's RCU grace period (about 13 ms), in the bubble's time.
func slowDeletes(k *pmtest.Kernel) {
	k.OnCall(func(method string) {
		if method == "DeleteEndpoint" {
			time.Sleep(13 * time.Millisecond)
		}
	})
}

// TestRunLoneEventsAtOnce checks that events fewer than burstEvents to a
// BurstWindow are each reconciled at once, however soon after a
// reconcile that changed the kernel: an address deleted a millisecond
// after it came, as in the bench's reaction figure, and a link changing
// every 3 ms.
func TestRunLoneEventsAtOnce(t *testing.T) {
	tests := []struct {
		name string
		gaps []time.Duration // between events, in turn
	}{
		{"pairs 1 ms apart",
			[]time.Duration{time.Millisecond, DefaultBurstWindow}},
		{"every 3 ms", []time.Duration{3 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil, Config{})
				h.send(laptop())
				time.Sleep(time.Second)

				for i := range 20 {
					s, state := toggle(i)
					before := h.reconciles()
					h.send(s)
					if n := h.reconciles() - before; n != 1 {
						t.Fatalf("event %d: want 1 reconcile at once, got %d",
							i, n)
					}
					h.wantNoIDs(fmt.Sprintf("event %d", i), state)
					time.Sleep(tt.gaps[i%len(tt.gaps)])
				}
			})
		})
	}
}

// TestRunBurst checks that 100 events 1 ms apart cost three reconciles
// when a reconcile takes no time: the first two events are acted on at
// once, for nothing tells them from a lone pair; the third makes a burst,
// which is reconciled once, from the latest snapshot, when the snapshots
// have paused for Quiet. When the first reconcile takes as long as a real
// endpoint delete, the events that come meanwhile make the burst, and it
// costs two reconciles.
func TestRunBurst(t *testing.T) {
	tests := []struct {
		name       string
		slow       bool
		reconciles int
	}{
		{"instant kernel", false, 3},
		{"13 ms deletes", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil, Config{})
				if tt.slow {
					slowDeletes(h.k)
				}
				h.send(laptop())
				time.Sleep(time.Second)
				h.k.ResetCounts()

				// Events 0 to 98 flap the dock, with a pause shorter than
				// Quiet halfway; the last takes wlan0's carrier away.
				for i := range 99 {
					s, _ := toggle(i)
					h.send(s)
					time.Sleep(time.Millisecond)
					if i == 50 {
						time.Sleep(DefaultQuiet - 2*time.Millisecond)
					}
				}
				h.send(laptop().carrierOff(3))
				burst := h.reconciles()

				time.Sleep(DefaultQuiet - time.Nanosecond)
				synctest.Wait()
				if n := h.reconciles(); n != burst {
					t.Fatalf("reconciled before the pause: %d, then %d",
						burst, n)
				}
				time.Sleep(time.Nanosecond)
				synctest.Wait()
				if n := h.reconciles(); n != tt.reconciles {
					t.Errorf("want %d reconciles, got %d", tt.reconciles, n)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				h.wantNoIDs("after the burst", "192.0.2.10 subflow dev eth0 \n"+
					"add_addr_accepted 2 subflows 3 \n")

				// Quiet again: the next event is acted on at once.
				time.Sleep(DefaultQuiet)
				h.k.ResetCounts()
				h.send(laptop())
				if n := h.reconciles(); n != 1 {
					t.Errorf("after the burst: want 1 reconcile at once, "+
						"got %d", n)
				}
			})
		})
	}
}

// TestRunBurstOps checks that a burst costs the operations of its first
// reaction plus those to its final state: the dock flaps 100 times and
// ends as it began.
func TestRunBurstOps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		slowDeletes(h.k)
		h.send(laptop())
		time.Sleep(time.Second)
		h.k.ResetCounts()

		for i := range 100 {
			s, _ := toggle(i)
			h.send(s)
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()

		// First reaction: delete eth0, wlan0 no longer backup, limits.
		// Final state: eth0 back, wlan0 backup again, limits.
		if c := h.k.Counts(); c.Changes() != 6 {
			t.Errorf("want 6 kernel changes, got %+v", c)
		}
		h.wantNoIDs("after the burst", docked)
	})
}

// TestRunFlapMaxDelay checks that a link flapping for ever is reconciled
// all the same: no snapshot waits more than MaxDelay, and the reconciles
// are about one per MaxDelay, not one per event.
func TestRunFlapMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxDelay = 100 * time.Millisecond
		h := newHarness(t, nil, Config{MaxDelay: maxDelay})
		h.send(laptop())
		time.Sleep(time.Second)
		h.k.ResetCounts()

		start := time.Now()
		sent := map[time.Time]uint64{}
		for i := range 1000 {
			s, _ := toggle(i)
			h.send(s)
			sent[time.Now()] = h.seq

			waited := time.Now().Add(-maxDelay)
			seq, ok := sent[waited]
			if got := h.e.Status().Seq; ok && got < seq {
				t.Fatalf("at %v: snapshot %d of %v not reconciled yet, "+
					"last reconciled %d", time.Since(start), seq,
					waited.Sub(start), got)
			}
			time.Sleep(time.Millisecond)
		}

		took := time.Since(start)
		most := 2 + int(took/maxDelay)
		if n := h.reconciles(); n < 10 || n > most {
			t.Errorf("want 10 to %d reconciles in %v, got %d", most, took, n)
		}
	})
}

// TestRunFoldsDuringReconcile checks that the events that come while a
// reconcile runs are folded into one follow-up from the latest snapshot:
// at once when they are few, or when they made a burst that has paused
// for Quiet; else once they have.
func TestRunFoldsDuringReconcile(t *testing.T) {
	tests := []struct {
		name string
		// events come 1 ms apart from at into the 13 ms reconcile.
		at     time.Duration
		events int
		// wait is from the end of the first reconcile to the follow-up.
		wait time.Duration
	}{
		{"one, just before the end", 12 * time.Millisecond, 1, 0},
		{"a burst that paused before the end", time.Millisecond, 2, 0},
		{"a burst that has not paused for long", time.Millisecond, 5,
			5*time.Millisecond + DefaultQuiet - 13*time.Millisecond},
		{"a burst on at the end", 8*time.Millisecond + time.Millisecond/2,
			5, DefaultQuiet - time.Millisecond/2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil, Config{})
				slowDeletes(h.k)
				h.send(laptop())
				time.Sleep(time.Second)
				h.k.ResetCounts()

				start := time.Now()
				h.send(laptop().carrierOff(2))
				time.Sleep(tt.at)
				for i := range tt.events {
					if i > 0 {
						time.Sleep(time.Millisecond)
					}
					h.send(laptop().addr(2, fmt.Sprintf("fe80::%d/64", i+1), 0))
				}
				end := start.Add(13 * time.Millisecond)
				time.Sleep(time.Until(end.Add(tt.wait)) - time.Nanosecond)
				synctest.Wait()
				if n := h.reconciles(); n != 1 {
					t.Fatalf("want no follow-up yet, got %d", n-1)
				}

				time.Sleep(time.Nanosecond)
				synctest.Wait()
				if n := h.reconciles(); n != 2 {
					t.Fatalf("want 1 follow-up, got %d", n-1)
				}
				h.wantNoIDs("follow-up from the latest snapshot", docked)
				if st := h.e.Status(); st.Seq != h.seq {
					t.Errorf("follow-up read snapshot %d, want %d", st.Seq,
						h.seq)
				}
			})
		})
	}
}

// TestRunTriggersJoinBurst checks that a reload during a burst waits for
// it and names the reconcile that ends it.
func TestRunTriggersJoinBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(laptop())
		time.Sleep(time.Second)
		h.k.ResetCounts()
		h.log.take()

		for i := range 10 {
			if i == 5 {
				h.e.Reload(policy{skip: []string{"wlan0"}}, "nowifi.toml")
			}
			h.send(laptop().addr(2, fmt.Sprintf("fe80::%d/64", i+1), 0))
			time.Sleep(time.Millisecond)
		}
		if n := h.reconciles(); n != 2 {
			t.Fatalf("want the 2 reconciles before the burst, got %d", n)
		}
		h.want("held by the burst", s1State)

		time.Sleep(DefaultQuiet)
		synctest.Wait()
		h.want("after the burst", "192.0.2.10 id 1 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 3 \n")
		log := h.log.take()
		if !strings.Contains(log, "msg=reconciled") ||
			!strings.Contains(log, "trigger=reload") {
			t.Errorf("want the reconcile after the burst named reload:\n%s",
				log)
		}
	})
}

// TestRunMPTCPDuringReconcile checks that MPTCP counts that come while a
// reconcile runs reach the status, not hidden by the reconcile's record
// of the older snapshot.
func TestRunMPTCPDuringReconcile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		slowDeletes(h.k)
		h.send(laptop())
		time.Sleep(time.Second)

		h.send(laptop().carrierOff(2))
		time.Sleep(time.Millisecond)
		counted := laptop().carrierOff(2)
		counted.MPTCP.Connections = 1
		counted.MPTCP.Subflows = map[watchersKey]watchersCount{
			{Addr: netip.MustParseAddr("198.51.100.20"), Ifindex: 3}: {
				Established: 2},
		}
		h.send(counted)
		time.Sleep(time.Second)
		synctest.Wait()

		h.want("after the reconcile", s2State)
		st := h.e.Status()
		wlan := st.Links[1].Addrs[0].Subflows
		if st.Connections != 1 || wlan.Established != 2 {
			t.Errorf("status lacks the MPTCP counts: %d connections, links %+v",
				st.Connections, st.Links)
		}
	})
}
