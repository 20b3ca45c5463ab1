package engine

import (
	"log/slog"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// Defaults of Config.
const (
	// DefaultBurstWindow is the window in which burstEvents relevant
	// snapshots make a burst. Changes a dock, a DHCP renewal or the
	// bench's bursts send come under a millisecond apart; an address
	// added, then deleted once its endpoint shows, comes as two.
	DefaultBurstWindow = 5 * time.Millisecond
	// DefaultQuiet is how long a burst's snapshots must pause before the
	// reconcile it held back runs. Under load the snapshots of a burst
	// sent one per millisecond came up to 7 ms apart (the bench's figure
	// 4 on 2 CPUs); the pause is added to a burst's settling time, whose
	// target allows 20 ms beside the kernel's deletes.
	DefaultQuiet = 10 * time.Millisecond
	// DefaultMaxDelay bounds how long a burst holds a snapshot back, so
	// that a link flapping for ever is still reconciled. It must outlast
	// the bursts that should cost one follow-up reconcile: the issue's
	// target burst (1000 changes one millisecond apart) lasts a second.
	DefaultMaxDelay = 2 * time.Second
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
	// BurstWindow is the window in which burstEvents relevant snapshots
	// make a burst; 0 is DefaultBurstWindow.
	BurstWindow time.Duration
	// Quiet is the pause of the snapshots that ends a burst; 0 is
	// DefaultQuiet.
	Quiet time.Duration
	// MaxDelay is the longest a burst holds a snapshot back before a
	// reconcile reads it; 0 is DefaultMaxDelay.
	MaxDelay time.Duration
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

	// Only the Run goroutine and the reconcile it runs touch these,
	// never both at once.
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
	// table is the kernel's table after the last reconcile, and rejoins
	// what is known of the subflows from our endpoints in it.
	table   []pm.Endpoint
	rejoins map[pm.Key]*rejoin
}

type reload struct {
	rules  Decider
	source string
}

// New returns an engine for cfg.
func New(cfg Config) *Engine {
	if cfg.BurstWindow <= 0 {
		cfg.BurstWindow = DefaultBurstWindow
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
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
		rejoins:  map[pm.Key]*rejoin{},
	}
	e.status = Status{
		LastOps: []string{}, Links: []LinkStatus{},
		Endpoints: []EndpointStatus{}, LeftOut: []LeftOut{},
		Errors: []ErrorStatus{}, Rejoins: []RejoinStatus{},
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
