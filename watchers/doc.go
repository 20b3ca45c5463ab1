// Package watchers turns rtnetlink and MPTCP events into Snapshots: the
// whole state of the links, addresses and routes of one network namespace,
// plus subflow counters from the "mptcp_pm_events" genetlink group.
//
// Watch follows a namespace; DetectType and ReadSysfs name a link's type
// from recorded facts; package watchertest feeds hand-made snapshots to
// other packages' tests. Events are treated as hints about a state that is
// always re-read whole after a loss: see Watch.
//
// BUG(watchers): after MPTCP events are lost (ENOBUFS), the counts of open
// connections and established subflows restart from zero: the kernel has
// no genetlink dump of connections, and reading them from sock_diag is not
// done yet.
package watchers
