package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// Defaults of Config.
const (
	// DefaultSettle is how long after a reconcile that changed the kernel
	// further triggers are gathered into one follow-up reconcile.
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
	// Settle is the coalescing window after a reconcile that changed the
	// kernel; 0 is DefaultSettle.
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
	// ruleErrs are the rule evaluation errors already logged, so that a
	// broken expression is reported when it starts failing, not on every
	// reconcile.
	ruleErrs map[string]bool
	// lastDryRun is the plan a dry run last logged, as text.
	lastDryRun string

	mu     sync.Mutex
	status Status
	owned  *Owned
}

type reload struct {
	rules  Decider
	source string
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
// within the settle window after one that changed the kernel are
// coalesced into one follow-up reconcile from the latest snapshot. A
// reconcile that changed nothing opens no window, so that it never delays
// the event that follows it.
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
		l.take(s)
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
		l.e.log.Debug("retrying refused operations",
			"ops", l.e.failedOps())
		l.trigger("retry")
	}

	return false, nil
}

// take takes s as the latest snapshot and reconciles, unless s differs
// from the last one only in what no reconcile reads: routes other than
// default routes, and the MPTCP counts when the rules do not read them.
// Then the status learns the new counts, and the kernel is left alone:
// such a reconcile would find nothing to do, and while it ran the event
// that follows (the address whose prefix route came first) would wait.
func (l *loop) take(s watchers.Snapshot) {
	prev, had := l.snap, l.have
	l.snap, l.have = s, true
	if had && !l.e.matters(prev, s) {
		l.e.log.Debug("snapshot changes nothing a reconcile reads",
			"seq", s.Seq)
		if !s.MPTCP.Equal(prev.MPTCP) {
			l.e.recordMPTCP(s)
		}
		return
	}

	l.trigger("event")
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

// trigger reconciles at once, or after the settle window when one is
// open; a reconcile that made kernel operations opens a new window.
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

	out := l.e.reconcile(l.snap, why)
	l.retry.Stop()
	if !out.retry.IsZero() {
		l.retry.Reset(time.Until(out.retry))
	}
	if out.applied {
		l.settling = true
		l.settle.Reset(l.e.cfg.Settle)
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
