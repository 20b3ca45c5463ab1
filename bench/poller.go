package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"golang.org/x/sys/unix"
)

// The kernel sends no event when an endpoint changes, so the bench sees
// endpoints by dumping the table (GET_ADDR) in a loop with a short sleep
// between dumps. One poller watches every contestant the same way, and
// keeps how long each dump took, for the report.
type poller struct {
	interval time.Duration

	mu    sync.Mutex
	dumps []time.Duration
}

// maxDumpSamples bounds the memory the dump timings take.
const maxDumpSamples = 1 << 21

// A watch polls one namespace's table.
type watch struct {
	p    *poller
	c    *pm.Client
	once sync.Once
}

func (p *poller) watch(ns *netNS) (*watch, error) {
	c, err := pm.Dial(&pm.Config{NetNS: ns.path()})
	if err != nil {
		return nil, fmt.Errorf("dialing mptcp_pm in %s: %w", ns.name, err)
	}
	w := &watch{p: p, c: c}
	atExit(w.close)

	return w, nil
}

// close closes the connection; it is safe to call twice.
func (w *watch) close() {
	w.once.Do(func() { w.c.Close() })
}

// dump reads the table once and returns it with the time the reply was
// complete.
func (w *watch) dump() ([]pm.Endpoint, time.Time, error) {
	start := time.Now()
	eps, err := w.c.Endpoints()
	end := time.Now()

	w.p.mu.Lock()
	if len(w.p.dumps) < maxDumpSamples {
		w.p.dumps = append(w.p.dumps, end.Sub(start))
	}
	w.p.mu.Unlock()

	return eps, end, err
}

// sleep waits one interval. time.Sleep rounds sub-millisecond sleeps up to
// about a millisecond on these machines, so the thread sleeps in
// nanosleep(2) instead.
func (w *watch) sleep() {
	ts := unix.NsecToTimespec(w.p.interval.Nanoseconds())
	unix.Nanosleep(&ts, nil)
}

// lockThread keeps the polling goroutine on one thread whose timer slack
// is 1 µs instead of the default 50 µs, which nanosleep(2) would otherwise
// add to every interval (prctl(2), PR_SET_TIMERSLACK). It returns the
// unlock.
func lockThread() func() {
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)

	return runtime.UnlockOSThread
}

// until dumps the table until cond holds or timeout has passed. It returns
// the completion time of the first dump that satisfied cond and whether
// one did.
func (w *watch) until(timeout time.Duration,
	cond func([]pm.Endpoint) bool) (time.Time, []pm.Endpoint, bool, error) {
	defer lockThread()()
	deadline := time.Now().Add(timeout)
	for {
		eps, at, err := w.dump()
		if err != nil {
			return at, nil, false, err
		}
		if cond(eps) {
			return at, eps, true, nil
		}
		if at.After(deadline) {
			return at, eps, false, nil
		}
		w.sleep()
	}
}

// render formats a table without ids, sorted, one endpoint per line: the
// form SCENARIOS.md writes expected tables in.
func render(eps []pm.Endpoint) string {
	lines := make([]string, 0, len(eps))
	for _, e := range eps {
		e.ID = 0
		lines = append(lines, strings.Replace(e.String(), " id 0", "", 1))
	}
	slices.Sort(lines)

	return strings.Join(lines, "\n")
}

// endpointDiff is the least number of kernel operations that turn table a
// into table b: one add per missing endpoint, one delete per extra one,
// one SET_FLAGS per endpoint whose flags differ.
func endpointDiff(a, b []pm.Endpoint) int {
	type key struct {
		addr    string
		ifindex int32
	}
	flags := map[key]pm.Flags{}
	for _, e := range a {
		flags[key{e.Addr.String(), e.Ifindex}] = e.Flags
	}
	n := 0
	for _, e := range b {
		k := key{e.Addr.String(), e.Ifindex}
		f, ok := flags[k]
		switch {
		case !ok:
			n++ // add
		case f != e.Flags:
			n++ // set flags (or delete and add, for signal/subflow)
		}
		delete(flags, k)
	}

	return n + len(flags) // deletes
}

// dumpTimes returns the dump durations seen so far.
func (p *poller) dumpTimes() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()

	return slices.Clone(p.dumps)
}
