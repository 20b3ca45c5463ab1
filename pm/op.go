package pm

import (
	"errors"
	"fmt"
	"strings"
)

// OpKind is the kind of one change a reconcile makes to the kernel. The
// zero value is no valid kind.
type OpKind int

// The kinds of changes, one kernel request each.
const (
	OpAdd       OpKind = iota + 1 // ADD_ADDR
	OpDelete                      // DEL_ADDR by id
	OpSetFlags                    // SET_FLAGS by id: backup and fullmesh
	OpSetLimits                   // SET_LIMITS, both values
)

// String names k after the ip-mptcp(8) verb: add, delete, change, limits.
func (k OpKind) String() string {
	switch k {
	case OpAdd:
		return "add"
	case OpDelete:
		return "delete"
	case OpSetFlags:
		return "change"
	case OpSetLimits:
		return "limits"
	}

	return fmt.Sprintf("op(%d)", int(k))
}

// An Op is one change to the kernel.
//
// For OpAdd, Endpoint is the endpoint to add, with ID 0 (the kernel picks
// it). For OpDelete and OpSetFlags it is the endpoint as the kernel holds
// it, with the new flags for OpSetFlags. Limits is used by OpSetLimits
// only. Reason says why, for logs.
type Op struct {
	Kind     OpKind
	Endpoint Endpoint
	Limits   Limits
	Reason   string
}

// String formats o for logs in the words of ip-mptcp(8):
// "add 192.0.2.10 subflow dev if3", "delete 192.0.2.10 id 2",
// "change 198.51.100.20 id 2 nobackup",
// "limits add_addr_accepted 1 subflows 2".
func (o Op) String() string {
	e := o.Endpoint
	switch o.Kind {
	case OpAdd:
		return "add " + opEndpoint(e, false, true)
	case OpDelete:
		return "delete " + opEndpoint(e, true, false)
	case OpSetFlags:
		return "change " + opEndpoint(e, true, false) + " " +
			inPlaceWords(e.Flags)
	case OpSetLimits:
		return "limits " + o.Limits.String()
	}

	return o.Kind.String()
}

// opEndpoint names e as ip-mptcp(8) arguments: address, port, and the id
// and the flags and device when asked.
func opEndpoint(e Endpoint, id, flags bool) string {
	var b strings.Builder
	b.WriteString(e.Addr.String())
	if e.Port != 0 {
		fmt.Fprintf(&b, " port %d", e.Port)
	}
	if id {
		fmt.Fprintf(&b, " id %d", e.ID)
	}
	if f := e.Flags.String(); flags && f != "" {
		b.WriteString(" " + f)
	}
	if flags && e.Ifindex != 0 {
		fmt.Fprintf(&b, " dev if%d", e.Ifindex)
	}

	return b.String()
}

// inPlaceWords says what SET_FLAGS assigns: backup or nobackup, and
// fullmesh when it is set.
func inPlaceWords(f Flags) string {
	w := "nobackup"
	if f.Has(FlagBackup) {
		w = "backup"
	}
	if f.Has(FlagFullmesh) {
		w += " fullmesh"
	}

	return w
}

// ErrSkipped marks an op that was not attempted because the delete that
// had to precede it failed.
var ErrSkipped = errors.New("not attempted: the delete it needs failed")

// An OpError is an op the kernel refused, or one skipped (ErrSkipped).
type OpError struct {
	Op  Op
	Err error
}

// Error names the op's endpoint: a *Error from the client already does, any
// other error is prefixed with the op.
func (e OpError) Error() string {
	var pe *Error
	if errors.As(e.Err, &pe) && (pe.Endpoint.Addr.IsValid() || pe.ID != 0) {
		return e.Err.Error()
	}

	return e.Op.String() + ": " + e.Err.Error()
}

// Unwrap returns the kernel's error.
func (e OpError) Unwrap() error { return e.Err }
