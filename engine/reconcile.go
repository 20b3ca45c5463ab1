package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
}

// reconcile brings the kernel to what s and the rules want and records the
// outcome in the status.
func (e *Engine) reconcile(s watchers.Snapshot, why string) outcome {
	d, v := e.desired(s)
	if e.cfg.DryRun {
		e.dryRun(d, v, why)
		return outcome{}
	}

	eps := e.dueRejoins(v, time.Now())
	v.rejoins = map[pm.Key]bool{}
	for _, ep := range eps {
		v.rejoins[ep.Key()] = true
	}

	e.kernel.start()
	res, err := e.applyRejoins(d, eps)
	before := e.kernel.table
	if err != nil && len(res.Plan.Ops) == 0 && len(res.Failed) == 0 {
		next := e.backoff(v, nil, err)
		e.recordError(v, why, err)
		return outcome{retry: next}
	}

	after := e.tableAfter(res, before)
	adopted := e.adopted(v, before)
	e.updateOwned(v, res, after)
	e.logResult(v, why, res, adopted)
	e.setTable(after)
	e.rejoined(s, res)

	next := e.backoff(v, res.Failed, err)
	e.record(v, why, res, after)

	return outcome{retry: next}
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

// adopted lists the wanted endpoints that someone else made, as `ip
// mptcp endpoint show` prints them: from now on they are ours.
func (e *Engine) adopted(v *view, before []pm.Endpoint) []string {
	var texts []string
	for _, w := range v.wanted {
		for _, b := range before {
			if b.Key() == w.Key() && !e.ownedHas(b.Key()) {
				texts = append(texts, b.Format(v.ifname))
			}
		}
	}

	return texts
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

// logResult writes one line when the reconcile changed something: made
// operations or adopted endpoints; nothing otherwise. The line is a
// warning at a resync when it repaired something, for then the kernel had
// drifted from what the engine last left without an event saying so. An
// operation refused before and accepted now is no drift but a retry that
// succeeded, and the line says so. Backoff logs the refused operations.
func (e *Engine) logResult(v *view, why string, res pm.Result,
	adopted []string) {
	if len(res.Applied) > 0 || len(adopted) > 0 {
		retried := e.retried(res.Applied)
		drift := len(retried)+v.rejoinOps(res.Applied) <
			len(res.Applied) || len(adopted) > 0
		level := slog.LevelInfo
		if why == "resync" && drift {
			level = slog.LevelWarn
		}
		attrs := []any{"ops", v.opsText(res.Applied), "trigger", why}
		if len(retried) > 0 {
			attrs = append(attrs, "accepted_on_retry", v.opsText(retried))
		}
		if len(adopted) > 0 {
			attrs = append(attrs, "adopted", strings.Join(adopted, "; "))
		}
		if re := v.reAdded(res.Applied); re != "" {
			attrs = append(attrs, "re_added", re)
		}
		e.log.Log(context.Background(), level, "reconciled", attrs...)
	}

	if n := len(res.Plan.LeftOut); n > 0 {
		e.log.Debug("endpoints left out, all slots taken", "count", n)
	}
}

// setTable records the kernel's table after a reconcile.
func (e *Engine) setTable(t []pm.Endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()

	e.table = t
}

// rejoinOps counts the operations of applied that re-add an endpoint.
func (v *view) rejoinOps(applied []pm.Op) int {
	n := 0
	for _, o := range applied {
		if o.Kind != pm.OpSetLimits && v.rejoins[o.Endpoint.Key()] {
			n++
		}
	}

	return n
}

// reAdded says which endpoints of applied were added again because
// their subflows failed, e.g. "re-add 192.0.2.10 dev eth0 (its subflows
// failed: the kernel does not retry)".
func (v *view) reAdded(applied []pm.Op) string {
	var texts []string
	for _, o := range applied {
		if o.Kind != pm.OpAdd || !v.rejoins[o.Endpoint.Key()] {
			continue
		}
		s := "re-add " + o.Endpoint.Addr.String()
		if name := v.ifname(o.Endpoint.Ifindex); name != "" {
			s += " dev " + name
		}
		texts = append(texts, s+" ("+rejoinWhy+")")
	}

	return strings.Join(texts, "; ")
}

// retried returns the operations of applied that the kernel refused at an
// earlier reconcile: call it before backoff forgets those refusals.
func (e *Engine) retried(applied []pm.Op) []pm.Op {
	var ops []pm.Op
	for _, o := range applied {
		if e.failures[opKey(o)] != nil {
			ops = append(ops, o)
		}
	}

	return ops
}

// dryRun logs the operations a reconcile would make.
func (e *Engine) dryRun(d pm.Desired, v *view, why string) {
	plan, err := e.Plan(d)
	if err != nil {
		e.log.Error("dry run: reading the kernel", "err", err)
		e.recordError(v, why, err)
		return
	}
	// The plan of a dry run stays the same until something changes:
	// saying it again at every trigger and resync would bury the news.
	ops := v.opsText(plan.Ops)
	if ops != e.lastDryRun && len(plan.Ops) > 0 {
		e.log.Info("dry run: would reconcile", "ops", ops, "trigger", why)
	}
	e.lastDryRun = ops

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

	// Plan the way Reconcile would: without the flag bits this kernel
	// has been seen to drop, or a dry run would show a delete and add
	// that the real reconcile no longer makes.
	d.Unsupported |= e.rec.Unsupported()

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
