package engine

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// burstEvents relevant snapshots within Config.BurstWindow make a burst. Two
// are no burst: an address added, then deleted as soon as its endpoint
// shows, is two changes a millisecond apart that each deserve an
// immediate reconcile, and so is a carrier that comes back and goes again.
const burstEvents = 3

// Run reconciles after every relevant snapshot of snaps, every reload,
// every resync interval and every due retry, until ctx ends (then it
// returns nil) or snaps is closed while ctx lasts (then it returns an
// error); either way it first waits for a reconcile under way. Nothing is
// done before the first snapshot.
//
// A snapshot is relevant when a reconcile from it can differ from one
// from the snapshot before it: one that changes only what no reconcile
// reads (routes other than default routes, and the MPTCP counts unless
// the rules read them) updates the status and leaves the kernel alone.
//
// Reconciles run one at a time on a goroutine of their own, so that Run
// goes on taking snapshots, and knows when each came, while the kernel
// works (deleting an endpoint takes it about 13 ms). Triggers become
// reconciles thus:
//
//   - A trigger is acted on at once when no reconcile runs and fewer than
//     burstEvents (3) relevant snapshots came within Config.BurstWindow
//     (5 ms), this one included: a lone change reaches the kernel with
//     nothing added.
//   - Triggers that come while a reconcile runs are folded into one
//     follow-up reconcile from the latest snapshot, which starts as soon
//     as the running one ends unless the snapshots make a burst.
//   - In a burst (burstEvents relevant snapshots within BurstWindow, and
//     no pause since) the reconcile waits until the snapshots have paused
//     for Config.Quiet (10 ms), then reads the latest, so that a burst
//     costs its first reaction plus the operations to its final state.
//     A burst holds no snapshot back more than Config.MaxDelay (2 s), so
//     that a link flapping for ever is still reconciled that often.
//
// Resyncs, retries of refused operations and re-adds of endpoints whose
// subflows failed (rejoin.go) keep their own timers: MPTCP counts that
// make a re-add due set its timer even when the rules ignore them. When
// one of them, or a reload, falls due while a reconcile runs or a burst
// holds, it joins the reconcile that follows, and names it in the logs.
func (e *Engine) Run(ctx context.Context,
	snaps <-chan watchers.Snapshot) error {
	l := loop{e: e, snaps: snaps, done: make(chan outcome, 1)}
	l.resync = time.NewTimer(e.resyncInterval())
	defer l.resync.Stop()
	l.hold = stoppedTimer()
	defer l.hold.Stop()
	l.retry = stoppedTimer()
	defer l.retry.Stop()
	l.rejoin = stoppedTimer()
	defer l.rejoin.Stop()

	for {
		if done, err := l.step(ctx); done {
			l.wait()
			return err
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()

	return t
}

// loop is the state of one Run. Only the Run goroutine touches it.
type loop struct {
	e     *Engine
	snaps <-chan watchers.Snapshot
	snap  watchers.Snapshot // the latest
	have  bool

	// arrivals holds when the latest relevant snapshots came, oldest
	// first, burstEvents of them at most.
	arrivals []time.Time
	// pending says why a reconcile is due, "" if none; since is when it
	// fell due, which MaxDelay counts from.
	pending string
	since   time.Time
	// holding is set while a burst holds the due reconcile back, until
	// the hold timer fires.
	holding bool
	// running is set while a reconcile of ran runs; done gets its
	// outcome.
	running bool
	ran     watchers.Snapshot
	done    chan outcome

	resync, hold, retry *time.Timer
	// rejoin fires when an endpoint whose subflows failed is due to be
	// added again.
	rejoin *time.Timer
}

func (l *loop) step(ctx context.Context) (bool, error) {
	// While a reconcile runs, reloads, resyncs and retries wait where
	// they are: a reload would swap the rules it reads, and the others
	// would only join the follow-up.
	var reloads <-chan reload
	var resync, retry, rejoin <-chan time.Time
	if !l.running {
		reloads, resync, retry = l.e.reloads, l.resync.C, l.retry.C
		rejoin = l.rejoin.C
	}

	select {
	case <-ctx.Done():
		return true, nil
	case s, ok := <-l.snaps:
		if !ok && ctx.Err() != nil {
			return true, nil
		}
		if !ok {
			return true, errors.New("snapshots ended")
		}
		l.e.log.Debug("snapshot", "seq", s.Seq, "links", len(s.Links),
			"addrs", len(s.Addrs), "routes", len(s.Routes))
		l.take(s)
	case out := <-l.done:
		l.finished(out)
	case <-l.hold.C:
		l.holding = false
		l.start()
	case r := <-reloads:
		l.e.rules, l.e.source = r.rules, r.source
		l.e.setRules(r.source)
		l.resync.Reset(l.e.resyncInterval())
		l.trigger("reload")
	case <-resync:
		l.resync.Reset(l.e.resyncInterval())
		l.trigger("resync")
	case <-retry:
		l.e.log.Debug("retrying refused operations",
			"ops", l.e.failedOps())
		l.trigger("retry")
	case <-rejoin:
		l.trigger("rejoin")
	}

	return false, nil
}

// take takes s as the latest snapshot and, when it is relevant, counts it
// as an event. An irrelevant one only updates the status with its MPTCP
// counts.
func (l *loop) take(s watchers.Snapshot) {
	prev, had := l.snap, l.have
	l.snap, l.have = s, true
	if had && !l.e.matters(prev, s) {
		l.e.log.Debug("snapshot changes nothing a reconcile reads",
			"seq", s.Seq)
		if !s.MPTCP.Equal(prev.MPTCP) {
			l.e.recordMPTCP(s)
			l.planRejoins()
		}
		return
	}

	now := time.Now()
	l.arrive(now)
	l.due("event", now)
	switch {
	case l.running:
		// The end of the running reconcile decides on the follow-up.
	case l.holding:
		l.holdOn(now)
	default:
		l.next(now)
	}
}

// matters reports whether a reconcile from b can differ from one from a:
// their links, addresses or default routes differ, or their MPTCP counts
// do and the rules read them.
func (e *Engine) matters(a, b watchers.Snapshot) bool {
	if !slices.Equal(a.Links, b.Links) || !slices.Equal(a.Addrs, b.Addrs) ||
		!slices.Equal(defaultRoutes(a.Routes), defaultRoutes(b.Routes)) {
		return true
	}

	return e.rules.UsesMPTCP() && !a.MPTCP.Equal(b.MPTCP)
}

// defaultRoutes returns the default routes of routes, the only ones facts
// read.
func defaultRoutes(routes []watchers.Route) []watchers.Route {
	var out []watchers.Route
	for _, r := range routes {
		if r.Default() {
			out = append(out, r)
		}
	}

	return out
}

// trigger makes a reconcile due for why, a reason other than a snapshot.
func (l *loop) trigger(why string) {
	if !l.have {
		return
	}

	now := time.Now()
	l.due(why, now)
	if !l.running && !l.holding {
		l.next(now)
	}
}

// arrive records that a relevant snapshot came at now.
func (l *loop) arrive(now time.Time) {
	if len(l.arrivals) == burstEvents {
		l.arrivals = slices.Delete(l.arrivals, 0, 1)
	}
	l.arrivals = append(l.arrivals, now)
}

// due records that a reconcile is due for why. An event does not replace
// another reason, which tells more in the logs.
func (l *loop) due(why string, now time.Time) {
	if l.pending == "" {
		l.since = now
	}
	if l.pending == "" || l.pending == "event" {
		l.pending = why
	}
}

// burst reports whether the snapshots come in a burst at now: the last
// burstEvents relevant ones came within BurstWindow, and have not paused
// for Quiet since. The burst may have begun while a reconcile ran, and
// come to a pause at its end: deleting an endpoint holds the reconcile
// for 13 ms.
func (l *loop) burst(now time.Time) bool {
	n := len(l.arrivals)
	if n < burstEvents {
		return false
	}

	last := l.arrivals[n-1]
	return last.Sub(l.arrivals[0]) < l.e.cfg.BurstWindow &&
		now.Sub(last) < l.e.cfg.Quiet
}

// next starts the due reconcile at once, or holds it back while the
// snapshots come in a burst.
func (l *loop) next(now time.Time) {
	if !l.burst(now) {
		l.start()
		return
	}

	l.e.log.Debug("snapshots in a burst, reconcile held until they pause",
		"quiet", l.e.cfg.Quiet, "trigger", l.pending)
	l.holding = true
	l.holdOn(now)
}

// holdOn sets the hold timer for when the snapshots will have paused for
// Quiet, or MaxDelay after the reconcile fell due if that comes first,
// and starts the reconcile when that time has come already.
func (l *loop) holdOn(now time.Time) {
	last := l.arrivals[len(l.arrivals)-1]
	end := last.Add(l.e.cfg.Quiet)
	if late := l.since.Add(l.e.cfg.MaxDelay); late.Before(end) {
		end = late
	}
	if end.After(now) {
		l.hold.Reset(end.Sub(now))
		return
	}

	l.hold.Stop()
	l.holding = false
	l.start()
}

// start runs the due reconcile from the latest snapshot on a goroutine
// of its own.
func (l *loop) start() {
	if l.pending == "" {
		return
	}

	why, s := l.pending, l.snap
	l.pending, l.running, l.ran = "", true, s
	go func() { l.done <- l.e.reconcile(s, why) }()
}

// finished takes the outcome of the reconcile that ran, and starts or
// holds the follow-up when something fell due meanwhile.
func (l *loop) finished(out outcome) {
	l.running = false
	l.retry.Stop()
	if !out.retry.IsZero() {
		l.retry.Reset(time.Until(out.retry))
	}
	// The reconcile recorded the counts of the snapshot it read: newer
	// ones that came meanwhile must not stay hidden.
	if !l.snap.MPTCP.Equal(l.ran.MPTCP) {
		l.e.recordMPTCP(l.snap)
	}
	l.planRejoins()

	if l.pending != "" {
		l.next(time.Now())
	}
}

// planRejoins sets the rejoin timer for the earliest endpoint due to be
// added again because its subflows failed, from the latest snapshot: MPTCP
// counts alone make no reconcile otherwise.
func (l *loop) planRejoins() {
	due := l.e.planRejoins(l.snap, time.Now())
	if due.IsZero() {
		l.rejoin.Stop()
		return
	}

	l.rejoin.Reset(time.Until(due))
}

// wait waits for the reconcile under way, if one is, and starts none.
func (l *loop) wait() {
	if l.running {
		<-l.done
		l.running = false
	}
}

func (e *Engine) resyncInterval() time.Duration {
	if e.cfg.Resync > 0 {
		return e.cfg.Resync
	}
	if d := e.rules.Settings().ResyncInterval; d > 0 {
		return d
	}

	return rules.DefaultResync
}

func (e *Engine) setRules(source string) {
	e.log.Info("rules reloaded", "rules", source)
}
