// Package pm speaks the Linux MPTCP in-kernel path manager's generic
// netlink family, "mptcp_pm", and reconciles its endpoint table and limits
// toward a desired state.
//
// A Client changes and reads one network namespace's endpoints and limits;
// an EventConn follows the namespace's MPTCP connection events. Both resolve
// the family and its "mptcp_pm_events" group by name, because their ids are
// dynamic. The wire format lives in codec.go and builds on any OS, so that
// the codec is tested and fuzzed without a kernel.
//
// Errors returned by the kernel are *Error values that keep the operation,
// the endpoint, the errno and the kernel's extended-ack text: branch on them
// with errors.Is(err, unix.EEXIST) and the like. Requests refused before
// anything is sent match ErrInvalid.
//
// Facts about the kernel cited in comments were observed on Linux 6.18
// unless marked otherwise.
package pm
