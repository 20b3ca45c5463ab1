// Package engine turns snapshots of the network into the endpoint table and
// limits the MPTCP in-kernel path manager should hold, and keeps the kernel
// there.
//
// The steps, one file each:
//
//   - facts.go: one rules.Env per address, with its eligibility. Readiness
//     (not tentative, DAD not failed, link up with carrier) can never be
//     relaxed; hygiene (loopback, link-local, ULA, temporary, deprecated, no
//     default route of the family through the link) can, per
//     rules.Settings.Hygiene.
//   - desired.go: the rules decide, per eligible address, which endpoint it
//     gets; the result is ordered by priority for the kernel's 8 slots; which
//     kernel endpoints are stale; the automatic limits.
//   - state.go: which endpoints are ours (made or adopted), persisted per
//     network namespace so that a restarted daemon knows them again.
//   - engine.go: the Engine, its configuration and reloads.
//   - loop.go: the level-triggered loop. A lone change is reconciled at
//     once; changes that come while a reconcile runs are folded into one
//     follow-up; a burst (3 relevant snapshots within 5 ms) is reconciled
//     once, from the latest snapshot, when it pauses for 10 ms, and at
//     least every 2 s while it lasts; resyncs, retries and reloads join
//     whichever reconcile comes next.
//   - reconcile.go: one reconcile: desired state, pm.Reconciler, ownership
//     and adoption, dry run and plan.
//   - backoff.go: refused operations, held out of the plan until their
//     retry is due, with a doubling delay.
//   - rejoin.go: endpoints whose subflows all failed, deleted and added
//     again. The kernel opens subflows from an endpoint once, when it is
//     added, and never retries one that failed: after a redock the first
//     SYN can meet a neighbour entry still failing from the time without
//     carrier (SUB_CLOSED error=113, EHOSTUNREACH, in about one redock in
//     five in `make demo`), and the connection would stay on its other
//     paths until a new one starts. An endpoint that is ours, carries
//     subflow, and whose subflows closed since it was (re)added all failed
//     with none open, while MPTCP connections exist, is re-added (one
//     reconcile deletes it, then adds it, logged as re_added in its
//     "reconciled" line) 1 s after the failure is seen (Config.RetryMin),
//     then twice as long after each re-add whose subflows failed again, up
//     to 1 min (Config.RetryMax). A re-add is made only once the previous
//     one's subflows have failed; one that works clears the backoff. The
//     pending re-adds are in the status.
//   - status.go: what the engine last saw and did, as JSON-able data for
//     `mptcp-autopm status`, and the wording of operations in logs.
//
// The engine never speaks netlink: it gets snapshots from package watchers
// and drives the kernel through pm.Kernel and pm.Reconciler.
package engine
