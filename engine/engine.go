package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// Defaults of Config.
const (
	// DefaultSettle is how long after a reconcile further triggers are
	// gathered into one follow-up reconcile.
	DefaultSettle = 10 * time.Millisecond
	// DefaultRetryMin and DefaultRetryMax bound the backoff between
	// retries of an operation the kernel refused.
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
)

// Config configures an Engine. Kernel and Rules are required.
type Config struct {
	Kernel pm.Kernel
	Rules  Decider
	// RulesSource names where the rules came from, for the status.
	RulesSource string
	// Owned is the set of our endpoints; nil is an empty set kept in
	// memory only.
	Owned *Owned
	// Log receives the engine's logs; nil discards them.
	Log *slog.Logger
	// DryRun computes and logs the operations but applies none.
	DryRun bool
	// Settle is the coalescing window after a reconcile; 0 is
	// DefaultSettle.
	Settle time.Duration
	// Resync, when positive, overrides the rules' resync interval.
	Resync time.Duration
	// RetryMin and RetryMax bound the retry backoff; 0 means the default.
	RetryMin, RetryMax time.Duration
}

// An Engine keeps the kernel's endpoints and limits where the rules want
// them. Run drives it; Reload, Status and RemoveOurs may be called from
// other goroutines.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	kernel  *recorder
	rec     *pm.Reconciler
	reloads chan reload

	// Only the Run goroutine touches these.
	rules    Decider
	source   string
	failures map[string]*failure

	mu     sync.Mutex
	status Status
	owned  *Owned
}

type reload struct {
	rules  Decider
	source string
}

// failure is an operation the kernel refused, waiting for its retry.
type failure struct {
	op       string
	err      error
	attempts int
	next     time.Time
}

// New returns an engine for cfg.
func New(cfg Config) *Engine {
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.Owned == nil {
		cfg.Owned = &Owned{keys: map[pm.Key]bool{}}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "engine")

	k := &recorder{Kernel: cfg.Kernel}
	e := &Engine{
		cfg:      cfg,
		log:      log,
		kernel:   k,
		rec:      pm.NewReconciler(k, cfg.Log),
		reloads:  make(chan reload, 1),
		rules:    cfg.Rules,
		source:   cfg.RulesSource,
		failures: map[string]*failure{},
		owned:    cfg.Owned,
	}
	e.status = Status{
		LastOps: []string{}, Links: []LinkStatus{},
		Endpoints: []EndpointStatus{}, LeftOut: []LeftOut{},
		Errors: []ErrorStatus{},
	}
	e.status.Rules = cfg.RulesSource
	e.status.DryRun = cfg.DryRun

	return e
}

// recorder remembers the first endpoint dump of each reconcile, which is
// the table the reconciler started from.
type recorder struct {
	pm.Kernel
	recording bool
	table     []pm.Endpoint
}

func (r *recorder) Endpoints() ([]pm.Endpoint, error) {
	t, err := r.Kernel.Endpoints()
	if r.recording {
		r.table, r.recording = t, false
	}

	return t, err
}

func (r *recorder) start() { r.recording, r.table = true, nil }

// Reload swaps the rules for d, read from source, and reconciles. When
// reloads come faster than Run takes them, the latest wins.
func (e *Engine) Reload(d Decider, source string) {
	e.mu.Lock()
	e.status.Rules = source
	e.status.RulesError = ""
	e.mu.Unlock()

	for {
		select {
		case e.reloads <- reload{d, source}:
			return
		default:
		}
		select {
		case <-e.reloads:
		default:
		}
	}
}

// RulesFailed records that loading the rules failed: the old rules stay,
// and the status shows err until the next successful Reload.
func (e *Engine) RulesFailed(err error) {
	e.log.Error("rules not reloaded, previous rules kept", "err", err)
	e.mu.Lock()
	e.status.RulesError = err.Error()
	e.mu.Unlock()
}

// Run reconciles after every snapshot of snaps, every reload, every resync
// interval and every due retry, until ctx ends (then it returns nil) or
// snaps is closed while ctx lasts (then it returns an error). Nothing is
// done before the first snapshot. The first trigger after a quiet
// period is acted on at once; those arriving while a reconcile runs or
// within the settle window after it are coalesced into one follow-up
// reconcile from the latest snapshot.
func (e *Engine) Run(ctx context.Context,
	snaps <-chan watchers.Snapshot) error {
	l := loop{e: e, snaps: snaps}
	l.resync = time.NewTimer(e.resyncInterval())
	defer l.resync.Stop()
	l.settle = time.NewTimer(0)
	l.settle.Stop()
	l.retry = time.NewTimer(0)
	l.retry.Stop()

	for {
		if done, err := l.step(ctx); done {
			return err
		}
	}
}

// loop is the state of one Run.
type loop struct {
	e        *Engine
	snaps    <-chan watchers.Snapshot
	snap     watchers.Snapshot
	have     bool
	settling bool
	pending  string // why a follow-up reconcile is due, "" if none
	resync   *time.Timer
	settle   *time.Timer
	retry    *time.Timer
}

func (l *loop) step(ctx context.Context) (bool, error) {
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
		l.snap, l.have = s, true
		l.trigger("event")
	case r := <-l.e.reloads:
		l.e.rules, l.e.source = r.rules, r.source
		l.e.setRules(r.source)
		l.resync.Reset(l.e.resyncInterval())
		l.trigger("reload")
	case <-l.settle.C:
		l.settling = false
		if why := l.pending; why != "" {
			l.pending = ""
			l.trigger(why)
		}
	case <-l.resync.C:
		l.resync.Reset(l.e.resyncInterval())
		l.trigger("resync")
	case <-l.retry.C:
		l.e.log.Warn("retrying refused operations",
			"ops", l.e.failedOps())
		l.trigger("retry")
	}

	return false, nil
}

// trigger reconciles at once, or after the settle window when one is
// running; then it opens a new window.
func (l *loop) trigger(why string) {
	if !l.have {
		return
	}
	if l.settling {
		if l.pending == "" || l.pending == "event" {
			l.pending = why
		}
		return
	}

	next := l.e.reconcile(l.snap, why)
	l.retry.Stop()
	if !next.IsZero() {
		l.retry.Reset(time.Until(next))
	}
	l.settling = true
	l.settle.Reset(l.e.cfg.Settle)
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

// desired computes what the kernel should hold for s under the current
// rules.
func (e *Engine) desired(s watchers.Snapshot) (pm.Desired, *view) {
	set := e.rules.Settings()
	v := &view{snap: s, facts: Facts(s, set)}
	v.choices, v.wanted = Choose(v.facts, e.rules)
	for _, c := range v.choices {
		e.log.Debug("evaluated", "addr", c.Addr, "ifindex", c.Ifindex,
			"rule", c.Rule, "endpoint", c.Endpoint != nil, "why", c.Why)
	}
	v.stale = newStaleness(s, v.choices, e.ownedNow(), set.ManageAll)

	d := pm.Desired{
		Endpoints: v.wanted,
		Stale:     v.stale.Stale,
		Limits: func(table []pm.Endpoint) pm.LimitsWant {
			var w pm.LimitsWant
			w.Subflows, w.AddAddrAccepted, v.limitsHow =
				wantLimits(set.Limits, table)
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

// reconcile brings the kernel to what s and the rules want, records the
// outcome in the status, and returns when the next retry is due (zero
// when nothing waits for one).
func (e *Engine) reconcile(s watchers.Snapshot, why string) time.Time {
	d, v := e.desired(s)
	if e.cfg.DryRun {
		e.dryRun(d, v, why)
		return time.Time{}
	}

	e.kernel.start()
	res, err := e.rec.Reconcile(d)
	before := e.kernel.table
	if err != nil && len(res.Plan.Ops) == 0 && len(res.Failed) == 0 {
		e.log.Error("reconcile failed, nothing applied", "err", err)
		e.recordError(v, why, err)
		return e.backoff(v, nil, err)
	}

	after := e.tableAfter(res, before)
	e.adopt(v, before)
	e.updateOwned(v, res, after)
	e.logResult(v, why, res)

	next := e.backoff(v, res.Failed, err)
	e.record(v, why, res, after)

	return next
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

// backoff records the refused operations and returns when the earliest
// retry is due. An operation refused again waits twice as long, up to
// RetryMax; one that no longer fails is forgotten.
func (e *Engine) backoff(v *view, failed []pm.OpError,
	err error) time.Time {
	now := time.Now()
	next := map[string]*failure{}
	add := func(key, op string, err error) {
		f := e.failures[key]
		if f == nil {
			f = &failure{}
		}
		f.op, f.err = op, err
		f.attempts++
		delay := e.cfg.RetryMin << min(f.attempts-1, 16)
		f.next = now.Add(min(delay, e.cfg.RetryMax))
		next[key] = f
	}

	for _, fe := range failed {
		add(opKey(fe.Op), v.opText(fe.Op), fe.Err)
	}
	if len(failed) == 0 && err != nil {
		add("reconcile", "reconcile", err)
	}
	e.failures = next

	var due time.Time
	for _, f := range next {
		if due.IsZero() || f.next.Before(due) {
			due = f.next
		}
	}

	return due
}

// opKey identifies what an operation is about, for its backoff.
func opKey(o pm.Op) string {
	if o.Kind == pm.OpSetLimits {
		return "limits"
	}

	return o.Endpoint.Key().Addr.String() + fmt.Sprintf(" port %d",
		o.Endpoint.Port)
}

func (e *Engine) failedOps() string {
	var ops []string
	for _, f := range e.failures {
		ops = append(ops, f.op)
	}

	return strings.Join(ops, "; ")
}

// logResult writes one Info line when something changed, and an Error
// line per refused operation.
func (e *Engine) logResult(v *view, why string, res pm.Result) {
	if len(res.Applied) > 0 {
		e.log.Info("reconciled", "ops", v.opsText(res.Applied),
			"trigger", why)
		if why == "resync" {
			e.log.Warn("kernel table drifted, repaired at resync",
				"ops", len(res.Applied))
		}
	}

	for _, f := range res.Failed {
		e.log.Error("operation refused, will retry",
			"op", v.opText(f.Op), "err", f.Err)
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
