package pm

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// A Reconciler moves a kernel's path manager toward a desired state. Every
// Reconcile reads the kernel again, so edits made by others and lost events
// are repaired on the next call; the only thing kept between calls is the
// set of flags the kernel was seen to drop (Unsupported). Calls to
// Reconcile must not overlap, since each plans from its own read.
type Reconciler struct {
	k           Kernel
	log         *slog.Logger
	unsupported atomic.Uint32 // Flags
}

// NewReconciler returns a Reconciler for k. A nil log discards the debug
// lines it writes for every op.
func NewReconciler(k Kernel, log *slog.Logger) *Reconciler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	return &Reconciler{k: k, log: log.With("component", "pm")}
}

// Unsupported returns the flag bits the kernel dropped from endpoints this
// Reconciler added, which later reconciles plan without (see
// Desired.Unsupported). It is zero until an add shows a drop, and safe to
// call during a Reconcile.
func (r *Reconciler) Unsupported() Flags {
	return Flags(r.unsupported.Load())
}

// Result is what one Reconcile did: the plan, the ops the kernel accepted
// (an add with the id the kernel chose) and the ops that failed or were
// skipped.
type Result struct {
	Plan    Plan
	Applied []Op
	Failed  []OpError
}

// Reconcile reads the kernel's table and limits, diffs them against d and
// applies the plan. Every op is tried even when another fails, except an
// add whose preceding delete failed (ErrSkipped). The error is the
// errors.Join of the OpErrors, each naming its endpoint, or the failure to
// read the kernel, in which case nothing was changed.
func (r *Reconciler) Reconcile(d Desired) (Result, error) {
	table, err := r.k.Endpoints()
	if err != nil {
		return Result{}, fmt.Errorf("reading endpoints: %w", err)
	}

	limits, err := r.k.Limits()
	if err != nil {
		return Result{}, fmt.Errorf("reading limits: %w", err)
	}

	d.Unsupported |= r.Unsupported()
	res := Result{Plan: Diff(table, limits, d)}
	r.apply(&res, limits)

	errs := make([]error, len(res.Failed))
	for i, f := range res.Failed {
		errs[i] = f
	}

	return res, errors.Join(errs...)
}

// apply sends the plan's ops in order; limits are the limits read.
func (r *Reconciler) apply(res *Result, limits Limits) {
	prevFailed := false
	for i, op := range res.Plan.Ops {
		var err error
		if op.Kind == OpAdd && i > 0 &&
			res.Plan.Ops[i-1].Kind == OpDelete && prevFailed {
			err = ErrSkipped
		} else {
			asked := op.Endpoint.Flags
			op, err = r.send(op, &limits)
			if err == nil && op.Kind == OpAdd {
				r.noteDropped(asked, op.Endpoint)
			}
		}
		prevFailed = err != nil

		if err != nil {
			res.Failed = append(res.Failed, OpError{Op: op, Err: err})
			continue
		}
		r.logApplied(op)
		res.Applied = append(res.Applied, op)
	}
}

// noteDropped records the flags asked for that the kernel did not store
// on the endpoint added. A kernel that masks the flags it does not know
// ("mptcp: pm: ignore unknown endpoint flags", 6.19 and stable) stores a
// LAMINAR endpoint without LAMINAR before 6.18; compared with the flag,
// it would be deleted and added again (RM_ADDR to peers) on every
// reconcile. Each bit is logged once.
func (r *Reconciler) noteDropped(asked Flags, stored Endpoint) {
	fresh := asked &^ stored.Flags &^ FlagImplicit &^ r.Unsupported()
	if fresh == 0 {
		return
	}

	r.unsupported.Or(uint32(fresh))
	r.log.Warn("kernel dropped an unsupported endpoint flag",
		"addr", stored.Addr, "endpoint_id", stored.ID,
		"flag", fresh.String())
}

// logApplied writes one debug line for an op the kernel accepted.
func (r *Reconciler) logApplied(op Op) {
	if op.Kind == OpSetLimits {
		r.log.Debug("limits set", "subflows", op.Limits.Subflows,
			"add_addr_accepted", op.Limits.AddAddrAccepted)
		return
	}

	msg := map[OpKind]string{
		OpAdd:      "endpoint added",
		OpDelete:   "endpoint deleted",
		OpSetFlags: "endpoint flags set",
	}[op.Kind]
	r.log.Debug(msg, "addr", op.Endpoint.Addr,
		"endpoint_id", op.Endpoint.ID, "flags", op.Endpoint.Flags.String())
}

// send makes the kernel request for op. It returns op with the endpoint as
// stored for an add. limits are the limits as last read or set.
func (r *Reconciler) send(op Op, limits *Limits) (Op, error) {
	switch op.Kind {
	case OpAdd:
		e, err := r.k.AddEndpoint(op.Endpoint)
		if err == nil {
			op.Endpoint = e
		}

		return op, err
	case OpDelete:
		return op, r.k.DeleteEndpoint(op.Endpoint.ID, op.Endpoint.Addr)
	case OpSetFlags:
		return op, r.k.SetFlags(op.Endpoint)
	case OpSetLimits:
		err := r.setLimits(*limits, op.Limits)
		if err == nil {
			*limits = op.Limits
		}

		return op, err
	}

	return op, fmt.Errorf("unknown op kind %d", int(op.Kind))
}

// partialLimits is implemented by *Client and pmtest.Kernel.
type partialLimits interface {
	SetLimitsPartial(subflows, addAddrAccepted *uint32) error
}

// setLimits sends only the limits that change from cur when the kernel
// can, so that a limit Desired leaves alone is not written back with the
// value read, over a change someone made since.
func (r *Reconciler) setLimits(cur, l Limits) error {
	p, ok := r.k.(partialLimits)
	if !ok {
		return r.k.SetLimits(l)
	}

	var subflows, accepted *uint32
	if l.Subflows != cur.Subflows {
		subflows = &l.Subflows
	}
	if l.AddAddrAccepted != cur.AddAddrAccepted {
		accepted = &l.AddAddrAccepted
	}

	return p.SetLimitsPartial(subflows, accepted)
}
