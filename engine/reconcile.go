package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// desired computes what the kernel should hold for s under the current
// rules.
func (e *Engine) desired(s watchers.Snapshot) (pm.Desired, *view) {
	set := e.rules.Settings()
	v := &view{snap: s, facts: Facts(s, set)}
	v.choices, v.wanted = Choose(v.facts, e.rules)
	errs := map[string]bool{}
	for _, c := range v.choices {
		e.log.Debug("evaluated", "addr", c.Addr, "ifindex", c.Ifindex,
			"rule", c.Rule, "endpoint", c.Endpoint != nil, "why", c.Why)
		if c.RuleError != "" && !e.ruleErrs[c.RuleError] {
			e.log.Warn("rule failed, next rules decided", "addr", c.Addr,
				"ifindex", c.Ifindex, "rule", c.Rule, "err", c.RuleError)
		}
		if c.RuleError != "" {
			errs[c.RuleError] = true
		}
	}
	e.ruleErrs = errs
	v.stale = newStaleness(s, v.choices, e.ownedNow(), set.ManageAll)
	v.held = e.held(time.Now())

	d := pm.Desired{
		Endpoints: holdBack(v.wanted, v.held),
		Stale: func(ep pm.Endpoint) bool {
			return !v.held[endpointKey(ep)] && v.stale.Stale(ep)
		},
		Limits: func(table []pm.Endpoint) pm.LimitsWant {
			var w pm.LimitsWant
			if v.held[limitsKey] {
				v.limitsHow = "kept until the refused change is retried"
				return w
			}
			w.Subflows, w.AddAddrAccepted, v.limitsHow =
				wantLimits(set.Limits, asIfApplied(table, v.wanted, v.held))
			return w
		},
	}

	return d, v
}

// ownedNow returns the set of our endpoints as it is now, so that one
// reconcile judges every endpoint by the same set.
func (e *Engine) ownedNow() func(pm.Key) bool {
	e.mu.Lock()
	defer e.mu.Unlock()

	keys := map[pm.Key]bool{}
	for _, k := range e.owned.Keys() {
		keys[k] = true
	}

	return func(k pm.Key) bool { return keys[k] }
}

func (e *Engine) ownedHas(k pm.Key) bool {
	e.mu.Lock()
	defer e.mu.Unlock()

	return e.owned.Has(k)
}

// outcome is what a reconcile tells the loop.
type outcome struct {
	// retry is when the next retry is due, zero when nothing waits for
	// one.
	retry time.Time
	// applied is set when kernel operations were made, refused ones
	// included.
	applied bool
}

// reconcile brings the kernel to what s and the rules want and records the
// outcome in the status.
func (e *Engine) reconcile(s watchers.Snapshot, why string) outcome {
	d, v := e.desired(s)
	if e.cfg.DryRun {
		e.dryRun(d, v, why)
		return outcome{}
	}

	e.kernel.start()
	res, err := e.rec.Reconcile(d)
	before := e.kernel.table
	if err != nil && len(res.Plan.Ops) == 0 && len(res.Failed) == 0 {
		next := e.backoff(v, nil, err)
		e.recordError(v, why, err)
		return outcome{retry: next}
	}

	after := e.tableAfter(res, before)
	e.adopt(v, before)
	e.updateOwned(v, res, after)
	e.logResult(v, why, res)

	next := e.backoff(v, res.Failed, err)
	e.record(v, why, res, after)

	return outcome{retry: next,
		applied: len(res.Applied) > 0 || len(res.Failed) > 0}
}

// tableAfter is the kernel's table after res: re-read when something was
// applied, so that the status shows the ids the kernel chose.
func (e *Engine) tableAfter(res pm.Result, before []pm.Endpoint) []pm.Endpoint {
	if len(res.Applied) == 0 {
		return before
	}

	t, err := e.cfg.Kernel.Endpoints()
	if err != nil {
		e.log.Warn("re-reading endpoints after reconcile", "err", err)
		return res.Plan.Table
	}

	return t
}

// adopt logs the wanted endpoints that someone else made: from now on
// they are ours.
func (e *Engine) adopt(v *view, before []pm.Endpoint) {
	for _, w := range v.wanted {
		for _, b := range before {
			if b.Key() == w.Key() && !e.ownedHas(b.Key()) {
				e.log.Info("adopted endpoint", "addr", b.Addr,
					"endpoint_id", b.ID, "flags", b.Flags.String(),
					"ifindex", b.Ifindex)
			}
		}
	}
}

// updateOwned makes ours every endpoint of the resulting table that is
// wanted or was ours already.
func (e *Engine) updateOwned(v *view, res pm.Result, after []pm.Endpoint) {
	wanted := map[pm.Key]bool{}
	for _, w := range v.wanted {
		wanted[w.Key()] = true
	}

	var keys []pm.Key
	for _, t := range after {
		if k := t.Key(); wanted[k] || e.ownedHas(k) {
			keys = append(keys, k)
		}
	}

	e.mu.Lock()
	_, err := e.owned.Set(keys)
	e.mu.Unlock()
	if err != nil {
		e.log.Error("saving owned endpoints", "err", err)
	}
}

// logResult writes one Info line when something changed; backoff logs
// the refused operations.
func (e *Engine) logResult(v *view, why string, res pm.Result) {
	if len(res.Applied) > 0 {
		e.log.Info("reconciled", "ops", v.opsText(res.Applied),
			"trigger", why)
		if why == "resync" {
			e.log.Warn("kernel table drifted, repaired at resync",
				"ops", len(res.Applied))
		}
	}

	if n := len(res.Plan.LeftOut); n > 0 {
		e.log.Debug("endpoints left out, all slots taken", "count", n)
	}
}

// dryRun logs the operations a reconcile would make.
func (e *Engine) dryRun(d pm.Desired, v *view, why string) {
	plan, err := e.Plan(d)
	if err != nil {
		e.log.Error("dry run: reading the kernel", "err", err)
		e.recordError(v, why, err)
		return
	}
	if len(plan.Ops) > 0 {
		e.log.Info("dry run: would reconcile", "ops", v.opsText(plan.Ops),
			"trigger", why)
	}

	res := pm.Result{Plan: plan}
	e.record(v, why, res, e.kernel.table)
}

// Plan returns the operations a reconcile toward d would make, applying
// none.
func (e *Engine) Plan(d pm.Desired) (pm.Plan, error) {
	e.kernel.start()
	table, err := e.kernel.Endpoints()
	if err != nil {
		return pm.Plan{}, fmt.Errorf("reading endpoints: %w", err)
	}

	limits, err := e.cfg.Kernel.Limits()
	if err != nil {
		return pm.Plan{}, fmt.Errorf("reading limits: %w", err)
	}

	return pm.Diff(table, limits, d), nil
}

// PlanSnapshot computes, without applying anything, what a reconcile from
// s would do, and returns the status it would leave.
func (e *Engine) PlanSnapshot(s watchers.Snapshot) (Status, error) {
	d, v := e.desired(s)
	plan, err := e.Plan(d)
	if err != nil {
		return Status{}, err
	}

	e.record(v, "plan", pm.Result{Plan: plan}, e.kernel.table)
	st := e.Status()
	st.LastOps = v.opsTexts(plan.Ops)

	return st, nil
}

// RemoveOurs deletes every endpoint of the kernel's table that is ours,
// for a daemon told to clean up when it exits. Call it after Run returned.
func (e *Engine) RemoveOurs() error {
	table, err := e.cfg.Kernel.Endpoints()
	if err != nil {
		return fmt.Errorf("reading endpoints: %w", err)
	}

	var errs []error
	var kept []pm.Key
	for _, t := range table {
		if !e.ownedHas(t.Key()) {
			continue
		}
		if err := e.cfg.Kernel.DeleteEndpoint(t.ID, t.Addr); err != nil {
			errs = append(errs, fmt.Errorf("deleting endpoint %s: %w", t, err))
			kept = append(kept, t.Key())
			continue
		}
		e.log.Info("removed endpoint on exit", "addr", t.Addr,
			"endpoint_id", t.ID)
	}

	e.mu.Lock()
	_, err = e.owned.Set(kept)
	e.mu.Unlock()

	return errors.Join(append(errs, err)...)
}
