package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// burstLinks is the number of links in the burst and idle figures. Each
// link has at most one address at a time, so at most 8 addresses are ever
// eligible: the kernel's endpoint cap never decides the outcome.
const burstLinks = 8

func burstNames() []string {
	names := make([]string, burstLinks)
	for k := range names {
		names[k] = fmt.Sprintf("eth%d", k)
	}

	return names
}

// A burstOp is one change: link k's carrier goes on or off, or its address
// 10.1.k.h arrives (with its default route, as DHCP would add it) or goes
// (the kernel then drops the route with it).
type burstOp struct {
	k       int
	carrier bool // a carrier change; else an address change
	on      bool
	h       int
}

// burstPlan is a seeded random sequence of ops from the starting state
// (every link has carrier and address 10.1.k.1), and the endpoint table
// the default policy wants after it.
type burstPlan struct {
	ops  []burstOp
	want []pm.Endpoint
	// anyCarrier is the table of a manager that ignores carrier, as
	// mptcpd does: one endpoint per address present.
	anyCarrier []pm.Endpoint
}

func newBurstPlan(seed uint64, n int) burstPlan {
	rng := rand.New(rand.NewPCG(seed, 7))
	carrier := make([]bool, burstLinks)
	host := make([]int, burstLinks)
	next := make([]int, burstLinks)
	for k := range carrier {
		carrier[k], host[k], next[k] = true, 1, 2
	}

	var p burstPlan
	for range n {
		k := rng.IntN(burstLinks)
		op := burstOp{k: k}
		switch {
		case rng.IntN(2) == 0:
			carrier[k] = !carrier[k]
			op.carrier, op.on = true, carrier[k]
		case host[k] != 0:
			op.h, host[k] = host[k], 0
		default:
			host[k], next[k] = next[k], next[k]%8+2
			op.on, op.h = true, host[k]
		}
		p.ops = append(p.ops, op)
	}

	for k := range burstLinks {
		if host[k] == 0 {
			continue
		}
		e := pm.Endpoint{
			Addr: addr(k, host[k]), Flags: pm.FlagSubflow,
			Ifindex: int32(10 + k),
		}
		p.anyCarrier = append(p.anyCarrier, e)
		if carrier[k] {
			p.want = append(p.want, e)
		}
	}

	return p
}

// apply makes one change.
func (e *env) apply(op burstOp) error {
	switch {
	case op.carrier:
		return e.carrier(op.k, op.on)
	case op.on:
		if err := e.addAddr(op.k, op.h); err != nil {
			return err
		}
		return e.addRoute(op.k)
	}

	return e.delAddr(op.k, op.h)
}

// A burstRun is what one contestant did in one burst.
type burstRun struct {
	SettleMS float64 `json:"settle_ms"`
	Ops      int64   `json:"ops"` // -1: not known
	// FirstOps is the number of operations the daemon's first reaction
	// to the burst made (its first log line with operations).
	FirstOps    int `json:"first_reaction_ops"`
	Changes     int `json:"table_changes_seen"`
	MinimalDiff int `json:"minimal_diff"`
	// Deletes is how many endpoints of the starting table the right final
	// table lacks: each costs the kernel ~13 ms.
	Deletes int  `json:"needed_deletes"`
	Right   bool `json:"right"`
	// RightAnyCarrier: the final table has one endpoint per address
	// present, carrier or not (what mptcpd aims at).
	RightAnyCarrier bool    `json:"right_ignoring_carrier"`
	Final           string  `json:"final_table"`
	Want            string  `json:"wanted_table"`
	BurstMS         float64 `json:"burst_ms"`
}

// burstFigure measures figure 4: a fresh 8-link env per contestant and
// round, the same seeded plan for every contestant in a round.
func (b *bench) burstFigure() error {
	runs := map[string][]burstRun{}
	order := append([]string(nil), contestants...)
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range b.cfg.bursts {
		plan := newBurstPlan(uint64(100+round), b.cfg.burstOps)
		shuffle(rng, order)
		for _, name := range order {
			run, err := b.burst(name, plan)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", name, round, err)
			}
			runs[name] = append(runs[name], run)
		}
	}
	b.rep.Samples["burst"] = runs
	b.burstRows(runs)

	var took []float64
	for _, rs := range runs {
		for _, r := range rs {
			took = append(took, r.BurstMS)
		}
	}
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf(
		"burst: %d rounds of %d changes on %d links, one every %s; a burst took %.0f to %.0f ms to send. Settling: right and unchanged for %s, or unchanged for %s.",
		b.cfg.bursts, b.cfg.burstOps, burstLinks, burstStep(b.cfg.burstOps),
		quantile(took, 0), quantile(took, 1), settleQuiet, settleGiveUp))

	return nil
}

func (b *bench) burst(name string, plan burstPlan) (burstRun, error) {
	r, err := b.newRig(name, "burst-"+short(name), burstNames()...)
	if err != nil {
		return burstRun{}, err
	}
	defer r.close()

	before, _, err := r.w.dump()
	if err != nil {
		return burstRun{}, err
	}
	run := burstRun{
		MinimalDiff: endpointDiff(before, plan.want),
		Deletes:     len(before) - common(before, plan.want),
		Want:        render(plan.want),
		Ops:         -1,
	}
	ops0 := r.d.ops.Load()

	obs := startObserver(r.w)
	start := time.Now()
	step := burstStep(len(plan.ops))
	var last time.Time
	for i, op := range plan.ops {
		if wait := time.Until(start.Add(time.Duration(i) * step)); wait > 0 {
			time.Sleep(wait)
		}
		last = time.Now()
		if err := r.env.apply(op); err != nil {
			obs.stop()
			return run, fmt.Errorf("change %d: %w", i, err)
		}
	}
	run.BurstMS = ms(time.Since(start))

	final, at, changes := obs.settle(last, run.Want)
	run.Final, run.Right = final, final == run.Want
	run.RightAnyCarrier = final == render(plan.anyCarrier)
	run.SettleMS = max(0, ms(at.Sub(last)))
	run.Changes = changes - 1 // the first dump is the starting table
	if name != mptcpd {
		run.Ops = r.d.ops.Load() - ops0
		run.FirstOps = r.d.firstBatch(start)
	}

	return run, nil
}

// common counts the endpoints of a that b has too, by address and link.
func common(a, b []pm.Endpoint) int {
	n := 0
	for _, e := range a {
		for _, f := range b {
			if e.Addr == f.Addr && e.Ifindex == f.Ifindex {
				n++
				break
			}
		}
	}

	return n
}

// opsBound says in how many runs the operations stayed within the first
// reaction's plus the minimal diff.
func opsBound(rs []burstRun) cell {
	n := 0
	for _, r := range rs {
		if r.Ops < 0 {
			return word("n/a")
		}
		if r.Ops <= int64(r.FirstOps+r.MinimalDiff) {
			n++
		}
	}

	return word(fmt.Sprintf("%d/%d", n, len(rs)))
}

// burstStep spaces the changes: 1000 in a second, or 1 ms apart when
// there are fewer.
func burstStep(n int) time.Duration {
	return time.Second / time.Duration(max(1000, n))
}

// An observer dumps one table continuously and keeps its latest change.
type observer struct {
	w    *watch
	halt chan struct{}
	done chan struct{}

	mu      sync.Mutex
	lastAt  time.Time
	table   string
	changes int
}

func startObserver(w *watch) *observer {
	o := &observer{w: w, halt: make(chan struct{}), done: make(chan struct{})}
	go o.run()

	return o
}

func (o *observer) run() {
	defer lockThread()()
	last := "\x00"
	for {
		select {
		case <-o.halt:
			close(o.done)
			return
		default:
		}
		eps, at, err := o.w.dump()
		if t := render(eps); err == nil && t != last {
			last = t
			o.mu.Lock()
			o.lastAt, o.table = at, t
			o.changes++
			o.mu.Unlock()
		}
		o.w.sleep()
	}
}

func (o *observer) stop() {
	close(o.halt)
	<-o.done
}

// Settling: the table is final once it has not changed for settleQuiet
// and is the one wanted, or for settleGiveUp when it is not; settleMax
// bounds the whole wait.
const (
	settleQuiet  = 300 * time.Millisecond
	settleGiveUp = 2 * time.Second
	settleMax    = 10 * time.Second
)

// settle waits until the table is final and returns it, when it last
// changed, and how many changes were seen in all.
func (o *observer) settle(last time.Time, want string) (string, time.Time, int) {
	defer o.stop()
	for {
		time.Sleep(10 * time.Millisecond)
		o.mu.Lock()
		at, table, n := o.lastAt, o.table, o.changes
		o.mu.Unlock()

		quiet := time.Since(last)
		if at.After(last) {
			quiet = time.Since(at)
		}
		switch {
		case table == want && quiet >= settleQuiet,
			quiet >= settleGiveUp,
			time.Since(last) >= settleMax:
			return table, at, n
		}
	}
}

func (b *bench) burstRows(runs map[string][]burstRun) {
	fig := "4 burst"
	settle, ops, changes, right, diff := map[string]cell{}, map[string]cell{},
		map[string]cell{}, map[string]cell{}, map[string]cell{}
	anyC, target, bound := map[string]cell{}, map[string]cell{},
		map[string]cell{}
	for name, rs := range runs {
		var o, c []float64
		s := &dist{}
		nRight, nAny := 0, 0
		for _, r := range rs {
			// A table that never became right never settled.
			record(s, r.Right, time.Duration(r.SettleMS*float64(time.Millisecond)))
			c = append(c, float64(r.Changes))
			if r.Ops >= 0 {
				o = append(o, float64(r.Ops))
			}
			if r.Right {
				nRight++
			}
			if r.RightAnyCarrier {
				nAny++
			}
		}
		settle[name] = scaleDists(map[string]*dist{name: s}, 1e-3)[name].cell(0.5)
		changes[name] = num(quantile(c, 0.5))
		ops[name] = word("n/a")
		if len(o) > 0 {
			ops[name] = num(quantile(o, 0.5))
		}
		right[name] = word(fmt.Sprintf("%d/%d", nRight, len(rs)))
		anyC[name] = word(fmt.Sprintf("%d/%d", nAny, len(rs)))
		diff[name] = num(float64(rs[0].MinimalDiff))
		bound[name] = opsBound(rs)
		target[name] = num(20 + 13*float64(rs[0].Deletes))
	}
	b.rep.addRow(fig, "settle p50", "ms", settle)
	b.rep.addRow(fig, "target: 20 + 13/delete (round 1)", "ms", target)
	b.rep.addRow(fig, "kernel ops p50", "n", ops)
	b.rep.addRow(fig, "ops <= first reaction + minimal diff", "runs",
		bound)
	b.rep.addRow(fig, "table changes seen p50", "n", changes)
	b.rep.addRow(fig, "minimal diff (round 1)", "n", diff)
	b.rep.addRow(fig, "final table right", "runs", right)
	b.rep.addRow(fig, "right if carrier is ignored", "runs", anyC)
}
