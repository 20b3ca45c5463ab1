package engine

import (
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// rejoinWhy explains a re-add in logs and the status.
const rejoinWhy = "its subflows failed: the kernel does not retry"

// rejoin is what the engine keeps about the subflows from one of its
// endpoints, so that it can add the endpoint again when they all failed:
// the kernel opens subflows from an endpoint once, when it is added, and
// never retries one that failed.
type rejoin struct {
	// ep is the endpoint as the kernel's table last showed it.
	ep pm.Endpoint
	// base are the subflow counts of its address when it was last
	// (re)added, or when a subflow from it last worked.
	base watchers.SubflowCount
	// attempts counts the re-adds since a subflow last worked.
	attempts int
	// due is when the next re-add is due; zero when none is.
	due time.Time
}

// allFailed reports whether every subflow closed since base failed, at
// least one did, and none is open: the endpoint carries nothing.
func allFailed(n, base watchers.SubflowCount) bool {
	failed := n.Failed - base.Failed
	return n.Established == 0 && failed > 0 && n.Closed-base.Closed == failed
}

// rejoinDelay is how long a re-add waits after attempts earlier ones:
// RetryMin, doubling up to RetryMax.
func (e *Engine) rejoinDelay(attempts int) time.Duration {
	return min(e.cfg.RetryMin<<min(attempts, 16), e.cfg.RetryMax)
}

// counts returns the subflow counts of s for the address of ep.
func counts(s watchers.Snapshot, ep pm.Endpoint) watchers.SubflowCount {
	return subflowsOf(s.MPTCP, ep.Addr, int(ep.Ifindex))
}

// planRejoins updates the rejoins from s at now and returns when the
// earliest re-add is due, zero when none is. An endpoint is due RetryMin
// after its subflows all failed, then twice as long after each re-add
// that failed again, up to RetryMax; while MPTCP connections exist, it is
// ours and carries subflow. A subflow that works clears its backoff.
func (e *Engine) planRejoins(s watchers.Snapshot, now time.Time) time.Time {
	if e.cfg.DryRun {
		return time.Time{}
	}

	e.mu.Lock()
	defer e.mu.Unlock()

	var next time.Time
	seen := map[pm.Key]bool{}
	for _, t := range e.table {
		k := t.Key()
		if !e.owned.Has(k) || !t.Flags.Has(pm.FlagSubflow) {
			continue
		}
		seen[k] = true
		r := e.rejoins[k]
		if r == nil {
			r = &rejoin{}
			e.rejoins[k] = r
		}
		r.ep = t
		if due := e.planRejoin(r, s, now); !due.IsZero() &&
			(next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	for k := range e.rejoins {
		if !seen[k] {
			delete(e.rejoins, k)
		}
	}
	e.status.Rejoins = e.rejoinStatus(s)

	return next
}

// planRejoin updates r from s at now and returns when it is due.
func (e *Engine) planRejoin(r *rejoin, s watchers.Snapshot,
	now time.Time) time.Time {
	n := counts(s, r.ep)
	switch {
	case n.Established > 0:
		r.base, r.attempts, r.due = n, 0, time.Time{}
	case s.MPTCP.Connections > 0 && allFailed(n, r.base):
		if r.due.IsZero() {
			r.due = now.Add(e.rejoinDelay(r.attempts))
		}
	default:
		r.due = time.Time{}
	}

	return r.due
}

// rejoinStatus lists the pending re-adds, earliest first. Call it with
// e.mu held.
func (e *Engine) rejoinStatus(s watchers.Snapshot) []RejoinStatus {
	out := []RejoinStatus{}
	for _, r := range e.rejoins {
		if r.due.IsZero() {
			continue
		}
		out = append(out, RejoinStatus{
			Endpoint: endpointText(r.ep, snapIfname(s), false),
			Reason:   rejoinWhy, Attempts: r.attempts, Due: r.due,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Due.Before(out[j].Due)
	})

	return out
}

// snapIfname names ifindexes as s does.
func snapIfname(s watchers.Snapshot) func(int32) string {
	v := &view{snap: s}
	return v.ifname
}

// dueRejoins returns the wanted endpoints whose re-add is due at now, and
// counts the attempt: the next one waits for its delay whatever comes of
// this one, so that a reconcile that cannot re-add it does not make the
// loop try again at once. Held endpoints wait for their retry instead.
func (e *Engine) dueRejoins(v *view, now time.Time) []pm.Endpoint {
	if e.cfg.DryRun {
		return nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()

	var eps []pm.Endpoint
	for k, r := range e.rejoins {
		if r.due.IsZero() || r.due.After(now) {
			continue
		}
		r.attempts++
		r.due = now.Add(e.rejoinDelay(r.attempts))
		i := slices.IndexFunc(v.wanted, func(w pm.Endpoint) bool {
			return w.Key() == k
		})
		if i < 0 || v.held[endpointKey(v.wanted[i])] {
			continue
		}
		eps = append(eps, v.wanted[i])
	}
	sort.Slice(eps, func(i, j int) bool {
		return eps[i].Addr.Less(eps[j].Addr)
	})

	return eps
}

// rejoined records the adds of res: an endpoint added, again or for the
// first time, counts its subflows from the counts of s, the snapshot read
// before the add, and its next re-add is due only when they fail again.
// The attempts made stay counted until a subflow works.
func (e *Engine) rejoined(s watchers.Snapshot, res pm.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()

	for _, o := range res.Applied {
		if o.Kind != pm.OpAdd {
			continue
		}
		r := e.rejoins[o.Endpoint.Key()]
		if r == nil {
			r = &rejoin{}
			e.rejoins[o.Endpoint.Key()] = r
		}
		r.ep, r.base, r.due = o.Endpoint, counts(s, o.Endpoint), time.Time{}
	}
}

// applyRejoins reconciles toward d and re-adds eps: a first reconcile
// deletes them along with whatever else d asks, planning limits as if
// they stayed; a second adds them again, so that the kernel opens their
// subflows anew. Without eps it is one plain reconcile.
func (e *Engine) applyRejoins(d pm.Desired, eps []pm.Endpoint) (pm.Result,
	error) {
	if len(eps) == 0 {
		return e.rec.Reconcile(d)
	}

	first, err := e.rec.Reconcile(withoutRejoins(d, eps))
	if err != nil && len(first.Plan.Ops) == 0 && len(first.Failed) == 0 {
		return first, err
	}

	second, err2 := e.rec.Reconcile(d)
	res := second
	res.Plan.Ops = slices.Concat(first.Plan.Ops, second.Plan.Ops)
	res.Applied = slices.Concat(first.Applied, second.Applied)
	res.Failed = slices.Concat(first.Failed, second.Failed)

	return res, errors.Join(err, err2)
}

// withoutRejoins is d with eps deleted: neither wanted nor kept, while
// the limits are planned as if they were in the table.
func withoutRejoins(d pm.Desired, eps []pm.Endpoint) pm.Desired {
	keys := map[pm.Key]bool{}
	for _, ep := range eps {
		keys[ep.Key()] = true
	}
	in := func(ep pm.Endpoint) bool { return keys[ep.Key()] }

	out := d
	out.Endpoints = slices.DeleteFunc(slices.Clone(d.Endpoints), in)
	out.Stale = func(ep pm.Endpoint) bool {
		return in(ep) || (d.Stale != nil && d.Stale(ep))
	}
	if d.Limits != nil {
		out.Limits = func(table []pm.Endpoint) pm.LimitsWant {
			t := slices.DeleteFunc(slices.Clone(table), in)
			return d.Limits(append(t, eps...))
		}
	}

	return out
}
