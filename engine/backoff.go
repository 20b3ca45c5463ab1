package engine

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// failure is an operation the kernel refused, waiting for its retry.
type failure struct {
	op       string
	err      error
	attempts int
	next     time.Time
}

// Keys of failures that are not about one endpoint.
const (
	limitsKey = "limits"
	// reconcileKey is a reconcile that could not even read the kernel. It
	// holds no operation back: the next trigger tries again.
	reconcileKey = "reconcile"
)

// endpointKey identifies what operations on e are about, for their
// backoff.
func endpointKey(e pm.Endpoint) string {
	return fmt.Sprintf("%s port %d", e.Key().Addr, e.Port)
}

// opKey identifies what an operation is about, for its backoff.
func opKey(o pm.Op) string {
	if o.Kind == pm.OpSetLimits {
		return limitsKey
	}

	return endpointKey(o.Endpoint)
}

// held returns the keys of the refused operations whose retry is not due
// at now. Their operations stay out of the plan until then, so that an
// event in between neither sends them again nor undoes what they are
// about.
func (e *Engine) held(now time.Time) map[string]bool {
	keys := map[string]bool{}
	for k, f := range e.failures {
		if k != reconcileKey && now.Before(f.next) {
			keys[k] = true
		}
	}

	return keys
}

// holdBack returns wanted without the endpoints whose key is held.
func holdBack(wanted []pm.Endpoint, held map[string]bool) []pm.Endpoint {
	if len(held) == 0 {
		return wanted
	}

	return slices.DeleteFunc(slices.Clone(wanted), func(e pm.Endpoint) bool {
		return held[endpointKey(e)]
	})
}

// asIfApplied is table as it would be had the held operations been
// accepted: held keys carry their wanted endpoint or none. Limits are
// computed from it, so that they do not go back and forth while an
// operation waits for its retry.
func asIfApplied(table, wanted []pm.Endpoint,
	held map[string]bool) []pm.Endpoint {
	if len(held) == 0 {
		return table
	}

	out := slices.DeleteFunc(slices.Clone(table), func(e pm.Endpoint) bool {
		return held[endpointKey(e)]
	})
	for _, w := range wanted {
		if held[endpointKey(w)] {
			out = append(out, w)
		}
	}

	return out
}

// backoff records the refused operations and returns when the earliest
// retry is due. An operation refused again waits twice as long, up to
// RetryMax; one that no longer fails is forgotten, and one held back
// keeps waiting. A refusal is logged as an error when it starts or its
// error changes, as a warning when a retry meets the same one.
func (e *Engine) backoff(v *view, failed []pm.OpError,
	err error) time.Time {
	now := time.Now()
	next := map[string]*failure{}
	for k := range v.held {
		next[k] = e.failures[k]
	}

	for _, fe := range failed {
		// An endpoint replaced (delete, then add) whose delete is
		// refused fails twice, the add with pm.ErrSkipped: one attempt.
		key := opKey(fe.Op)
		if _, dup := next[key]; dup {
			continue
		}

		next[key] = e.refused(key, v.opText(fe.Op), v.nameDevice(fe.Err),
			now)
	}
	if len(failed) == 0 && err != nil {
		next[reconcileKey] = e.refused(reconcileKey, "reconcile", err, now)
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

// refused counts one more refusal of op, logs it, and returns its
// failure with the time of its next retry.
func (e *Engine) refused(key, op string, err error,
	now time.Time) *failure {
	f := e.failures[key]
	if f == nil {
		f = &failure{}
	}
	again := f.err != nil && f.err.Error() == err.Error()
	f.op, f.err = op, err
	f.attempts++
	delay := min(e.cfg.RetryMin<<min(f.attempts-1, 16), e.cfg.RetryMax)
	f.next = now.Add(delay)

	switch {
	case again:
		e.log.Warn("operation refused again, will retry", "op", op,
			"err", err, "attempts", f.attempts, "retry_in", delay)
	case key == reconcileKey:
		e.log.Error("reconcile failed, nothing applied, will retry",
			"err", err, "retry_in", delay)
	default:
		e.log.Error("operation refused, will retry", "op", op, "err", err,
			"retry_in", delay)
	}

	return f
}

func (e *Engine) failedOps() string {
	var ops []string
	for _, f := range e.failures {
		ops = append(ops, f.op)
	}

	return strings.Join(ops, "; ")
}

// nameDevice returns err with the device of its endpoint named as the
// snapshot names it, as the operation's text does: pm formats the
// kernel's refusal with the ifindex alone ("adding endpoint 198.51.100.20
// dev if3: ..."), which reads as another device next to "dev wlan0". err
// stays reachable with errors.Is and errors.As.
func (v *view) nameDevice(err error) error {
	var pe *pm.Error
	if !errors.As(err, &pe) || pe.Endpoint.Ifindex == 0 {
		return err
	}

	name := v.ifname(pe.Endpoint.Ifindex)
	if name == "" {
		return err
	}

	// \b keeps "dev if3" from matching the head of "dev if30".
	dev := regexp.MustCompile(` dev if` +
		strconv.Itoa(int(pe.Endpoint.Ifindex)) + `\b`)
	text := dev.ReplaceAllLiteralString(err.Error(), " dev "+name)
	if text == err.Error() {
		return err
	}

	return &namedError{text: text, err: err}
}

// namedError is an error whose text names a device by its link name.
type namedError struct {
	text string
	err  error
}

func (e *namedError) Error() string { return e.text }
func (e *namedError) Unwrap() error { return e.err }
