package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.Write(p)
}

// take returns the lines written since the last take.
func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()

	return s
}

// reconciles counts the reconciles made so far: each reads the limits once.
func (h *harness) reconciles() int { return h.k.Counts().LimitReads }

// harness runs an engine over pmtest.Kernel inside a synctest bubble.
type harness struct {
	t      *testing.T
	k      *pmtest.Kernel
	e      *Engine
	log    *logBuffer
	snaps  chan watchers.Snapshot
	seq    uint64
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, k *pmtest.Kernel, cfg Config) *harness {
	t.Helper()
	if k == nil {
		k = pmtest.New()
	}
	k.SetIfnames(map[int32]string{2: "eth0", 3: "wlan0", 4: "wwan0"})
	h := &harness{
		t: t, k: k, log: &logBuffer{},
		snaps: make(chan watchers.Snapshot, 1),
		done:  make(chan error, 1),
	}
	cfg.Kernel = k
	if cfg.Rules == nil {
		cfg.Rules = policy{}
	}
	cfg.Log = slog.New(slog.NewTextHandler(h.log,
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	h.e = New(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.e.Run(ctx, h.snaps) }()
	t.Cleanup(h.stop)

	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
}

// send hands the engine a snapshot and waits until it is idle again.
func (h *harness) send(s *snap) {
	h.t.Helper()
	h.seq++
	ss := s.get()
	ss.Seq = h.seq
	h.snaps <- ss
	synctest.Wait()
}

// want compares the kernel's table and limits.
func (h *harness) want(step, state string) {
	h.t.Helper()
	if diff := cmp.Diff(state, h.k.State()); diff != "" {
		h.t.Fatalf("%s: unexpected kernel state (-want +got):\n%s\nlog:\n%s",
			step, diff, h.log.take())
	}
}

const (
	s1State = "192.0.2.10 id 1 subflow dev eth0 \n" +
		"198.51.100.20 id 2 subflow backup dev wlan0 \n" +
		"add_addr_accepted 2 subflows 4 \n"
	s2State = "198.51.100.20 id 2 subflow dev wlan0 \n" +
		"add_addr_accepted 2 subflows 3 \n"
)

func count(log, s string) int { return strings.Count(log, s) }

func TestRunDockUndockRedock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(laptop())
		h.want("S1", s1State)
		log := h.log.take()
		if n := count(log, "msg=reconciled"); n != 1 {
			t.Errorf("S1: want one reconciled line, got %d:\n%s", n, log)
		}
		for _, want := range []string{
			"add 192.0.2.10 subflow dev eth0 (rule other)",
			"add 198.51.100.20 subflow backup dev wlan0 (rule wifi-backup)",
			"component=engine",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("S1: log lacks %q:\n%s", want, log)
			}
		}

		time.Sleep(DefaultQuiet)
		h.send(laptop().carrierOff(2))
		h.want("S2", s2State)
		log = h.log.take()
		for _, want := range []string{
			"change 198.51.100.20 id 2 nobackup (rule wifi)",
			"delete 192.0.2.10 id 1 subflow dev eth0 (no carrier)",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("S2: log lacks %q:\n%s", want, log)
			}
		}

		time.Sleep(DefaultQuiet)
		h.send(laptop())
		h.want("S3", "198.51.100.20 id 2 subflow backup dev wlan0 \n"+
			"192.0.2.10 id 3 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 4 \n")
	})
}

func TestRunQuietWhenNothingChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(laptop())
		time.Sleep(DefaultQuiet)
		if log := h.log.take(); !strings.Contains(log, "msg=snapshot") ||
			!strings.Contains(log, "msg=evaluated") {
			t.Errorf("no debug lines for events and evaluations:\n%s", log)
		}
		h.k.ResetCounts()

		// The same snapshot, and one that differs in what no reconcile
		// reads (a route that is not a default route, MPTCP counts the
		// rules ignore), leave the kernel alone.
		other := laptop()
		other.Routes = append(other.Routes, watchers.Route{Family: 4,
			Dst: netip.MustParsePrefix("10.9.0.0/16"), LinkIndex: 2,
			Table: 254})
		other.MPTCP.Connections = 1
		for _, s := range []*snap{laptop(), other, laptop()} {
			h.send(s)
			time.Sleep(DefaultQuiet)
		}
		if c := h.k.Counts(); c.Dumps != 0 || c.LimitReads != 0 {
			t.Errorf("unexpected kernel calls for unchanged snapshots: %+v", c)
		}
		log := h.log.take()
		if strings.Contains(log, "level=INFO") ||
			strings.Contains(log, "level=WARN") {
			t.Errorf("logged above debug while nothing changed:\n%s", log)
		}
		if n := count(log, "msg=snapshot"); n != 3 {
			t.Errorf("want a debug line per snapshot, got %d:\n%s", n, log)
		}
	})
}

// TestRunMPTCPOnly checks that a snapshot whose only change is in the
// MPTCP counts updates the status without a reconcile, unless the rules
// read those counts.
func TestRunMPTCPOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(laptop())
		h.want("S1", s1State)
		time.Sleep(time.Second)

		wlan := watchersKey{Addr: netip.MustParseAddr("198.51.100.20"),
			Ifindex: 3}
		failing := laptop()
		failing.MPTCP.Connections = 1
		failing.MPTCP.Subflows = map[watchersKey]watchersCount{
			wlan: {Established: 1, Closed: 2, Failed: 2},
		}
		h.k.ResetCounts()
		h.send(failing)
		if n := h.reconciles(); n != 0 {
			t.Errorf("rules without MPTCP facts: want no reconcile, got %d", n)
		}
		st := h.e.Status()
		got := st.Links[1].Addrs[0].Subflows
		want := SubflowStatus{Established: 1, Closed: 2, Failed: 2}
		if diff := cmp.Diff(want, got); diff != "" || st.Connections != 1 {
			t.Errorf("status not updated: %d connections, subflows "+
				"(-want +got):\n%s", st.Connections, diff)
		}

		// Rules that read the counts see them at once.
		h.e.Reload(policy{backupAfter: 2}, "mptcp.toml")
		synctest.Wait()
		time.Sleep(time.Second)
		h.k.ResetCounts()
		failing.MPTCP.Subflows = map[watchersKey]watchersCount{
			{Addr: netip.MustParseAddr("192.0.2.10"), Ifindex: 2}: {
				Closed: 2, Failed: 2},
		}
		h.send(failing)
		if n := h.reconciles(); n != 1 {
			t.Errorf("rules with MPTCP facts: want 1 reconcile, got %d", n)
		}
		h.want("eth0 failing", "192.0.2.10 id 1 subflow backup dev eth0 \n"+
			"198.51.100.20 id 2 subflow backup dev wlan0 \n"+
			"add_addr_accepted 2 subflows 4 \n")
	})
}

func TestRunResyncRepairsDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{Resync: 2 * time.Second})
		h.send(laptop())
		h.want("S1", s1State)
		h.log.take()

		// S13: someone flushes the table; no event says so.
		if err := h.k.Other().Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := h.k.String(); got != "" {
			t.Fatalf("repaired before the resync interval: %q", got)
		}

		time.Sleep(time.Second)
		synctest.Wait()
		h.want("S13 after resync", s1State)
		log := h.log.take()
		lines := above(log, "DEBUG")
		if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") ||
			!strings.Contains(lines[0], "msg=reconciled") ||
			!strings.Contains(lines[0], "trigger=resync") {
			t.Errorf("want one warning line for the drift repaired at "+
				"resync, got:\n%s", strings.Join(lines, "\n"))
		}

		// A resync that finds nothing to do does nothing.
		h.k.ResetCounts()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c := h.k.Counts(); c.LimitReads != 1 || c.Changes() != 0 {
			t.Errorf("unexpected kernel calls at a quiet resync: %+v", c)
		}
	})
}

func TestRunRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		wlan := netip.MustParseAddr("198.51.100.20")
		k.Refuse(wlan, unix.EPERM, "refused for the test")
		h := newHarness(t, k, Config{
			RetryMin: time.Second, RetryMax: 4 * time.Second,
			Resync: time.Hour,
		})

		h.send(laptop())
		h.want("refused", "192.0.2.10 id 1 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 4 \n")
		st := h.e.Status()
		if len(st.Errors) != 1 || st.Errors[0].Attempts != 1 ||
			!strings.Contains(st.Errors[0].Op, "198.51.100.20") {
			t.Fatalf("unexpected status errors: %+v", st.Errors)
		}
		if log := h.log.take(); !strings.Contains(log, "level=ERROR") {
			t.Errorf("no error line for the refused add:\n%s", log)
		}

		// Retries after 1s, then 2s, then 4s, then 4s.
		var adds []int
		for _, wait := range []time.Duration{1, 2, 4, 4} {
			before := h.k.Counts().Adds
			time.Sleep(wait*time.Second - time.Millisecond)
			synctest.Wait()
			if h.k.Counts().Adds != before {
				t.Fatalf("retried before %v", wait*time.Second)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			adds = append(adds, h.k.Counts().Adds-before)
		}
		if diff := cmp.Diff([]int{1, 1, 1, 1}, adds); diff != "" {
			t.Errorf("unexpected retries (-want +got):\n%s", diff)
		}
		if got := h.e.Status().Errors[0].Attempts; got != 5 {
			t.Errorf("want 5 attempts in the status, got %d", got)
		}
		if log := h.log.take(); !strings.Contains(log, "level=WARN") {
			t.Errorf("no warning for the retries:\n%s", log)
		}

		k.Refuse(wlan, 0, "")
		time.Sleep(4 * time.Second)
		synctest.Wait()
		h.want("accepted at last", s1State)
		if errs := h.e.Status().Errors; len(errs) != 0 {
			t.Errorf("errors left in the status: %+v", errs)
		}
	})
}

// TestRunRetryAcceptedAtResync checks that an operation refused earlier
// and accepted at a later reconcile is logged as a retry that succeeded,
// not as drift repaired, even when a resync is what ran it.
func TestRunRetryAcceptedAtResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		wlan := netip.MustParseAddr("198.51.100.20")
		k.Refuse(wlan, unix.EPERM, "refused for the test")
		h := newHarness(t, k, Config{
			MaxDelay: 10 * time.Second, Resync: time.Second,
			RetryMin: 2 * time.Second, RetryMax: 4 * time.Second,
		})
		h.send(laptop())
		h.log.take()
		k.Refuse(wlan, 0, "")

		// A burst holds the reconcile back while the resync, then the
		// retry, fall due: the resync, pending first, runs the retry.
		time.Sleep(900 * time.Millisecond)
		for i := range 1600 {
			h.send(laptop().addr(2, fmt.Sprintf("fe80::%d/64", i%2+1), 0))
			time.Sleep(time.Millisecond)
		}
		h.want("held by the burst", "192.0.2.10 id 1 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 4 \n")
		time.Sleep(DefaultQuiet)
		synctest.Wait()
		h.want("accepted", s1State)

		lines := above(h.log.take(), "DEBUG")
		if len(lines) != 1 {
			t.Fatalf("want one line, got:\n%s", strings.Join(lines, "\n"))
		}
		for _, want := range []string{"level=INFO", "msg=reconciled",
			"trigger=resync", `accepted_on_retry="add 198.51.100.20`} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("retry line lacks %s: %s", want, lines[0])
			}
		}
	})
}

// TestRunBackoffHoldsBack checks that events between retries neither send
// a refused operation again nor log it again, and that the limits stay as
// they were planned with it.
func TestRunBackoffHoldsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		wlan := netip.MustParseAddr("198.51.100.20")
		k.Refuse(wlan, unix.EPERM, "refused for the test")
		h := newHarness(t, k, Config{
			RetryMin: time.Second,
			RetryMax: 4 * time.Second, Resync: time.Hour,
		})
		refused := "192.0.2.10 id 1 subflow dev eth0 \n" +
			"add_addr_accepted 2 subflows 4 \n"

		h.send(laptop())
		h.want("refused", refused)
		h.k.ResetCounts()

		// Events inside the first second: no retry yet.
		for i := range 5 {
			time.Sleep(100 * time.Millisecond)
			h.send(laptop().addr(2, fmt.Sprintf("fe80::%d/64", i+1), 0))
		}
		if c := h.k.Counts(); c.Changes() != 0 || c.LimitReads != 5 {
			t.Errorf("events before the retry: want 5 reconciles and no "+
				"kernel change, got %+v", c)
		}
		h.want("held back", refused)

		// The retry meets the same refusal: a warning, not an error.
		time.Sleep(time.Second)
		synctest.Wait()
		if c := h.k.Counts(); c.Adds != 1 {
			t.Errorf("want 1 add at the retry, got %+v", c)
		}
		log := h.log.take()
		if n := count(log, "level=ERROR"); n != 1 {
			t.Errorf("want 1 error line, at the first refusal, got %d:\n%s",
				n, log)
		}
		if n := count(log, `level=WARN msg="operation refused again`); n != 1 {
			t.Errorf("want 1 warning for the retry, got %d:\n%s", n, log)
		}
		if st := h.e.Status(); len(st.Errors) != 1 ||
			st.Errors[0].Attempts != 2 {
			t.Errorf("unexpected status errors: %+v", st.Errors)
		}

		// Another error text is news: an error line again.
		k.Refuse(wlan, unix.EINVAL, "refused otherwise")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if log := h.log.take(); count(log, "level=ERROR") != 1 {
			t.Errorf("a new error text logged no error line:\n%s", log)
		}
	})
}

// TestRunBackoffReplace checks that a replacement refused at its delete
// counts as one refused operation, not two.
func TestRunBackoffReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		wlan := netip.MustParseAddr("198.51.100.20")
		mustAdd(t, k, ep("198.51.100.20", pm.FlagSignal, 3))
		k.Refuse(wlan, unix.EPERM, "refused for the test")
		h := newHarness(t, k, Config{Resync: time.Hour})

		h.send(laptop())
		st := h.e.Status()
		if len(st.Errors) != 1 || st.Errors[0].Attempts != 1 ||
			!strings.HasPrefix(st.Errors[0].Op, "delete 198.51.100.20") {
			t.Errorf("want the refused delete once, got %+v", st.Errors)
		}
		if log := h.log.take(); count(log, "level=ERROR") != 1 {
			t.Errorf("want one error line:\n%s", log)
		}
	})
}

func TestRunEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Config{Kernel: pmtest.New(), Rules: policy{}})
		snaps := make(chan watchers.Snapshot)
		done := make(chan error, 1)
		go func() { done <- e.Run(context.Background(), snaps) }()
		close(snaps)
		if err := <-done; err == nil {
			t.Errorf("Run returned nil when the snapshots ended")
		}

		ctx, cancel := context.WithCancel(context.Background())
		snaps = make(chan watchers.Snapshot)
		go func() { done <- e.Run(ctx, snaps) }()
		cancel()
		close(snaps)
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: want nil, got %v", err)
		}
	})
}
