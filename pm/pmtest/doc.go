// Package pmtest is an in-memory MPTCP in-kernel path manager for tests.
//
// Kernel implements pm.Kernel with the semantics observed on Linux 6.18:
// the 8-endpoint cap, the duplicate rule, id allocation and its wrap,
// SET_FLAGS assigning backup and fullmesh together, implicit endpoints that
// a user add replaces in place, atomic limits, and the same errnos and
// extended-ack texts as the real client's *pm.Error. It renders its table as
// `ip mptcp endpoint show` does, so that a test compares one string, counts
// the calls made to it, and lets a test refuse one address or edit the
// table behind the caller's back as another program would.
//
// The drift guard (crosscheck_linux_test.go) runs one table of operations
// against this fake and a real kernel in a private namespace and requires
// the same results.
package pmtest
