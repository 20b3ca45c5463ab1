package pm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mdlayher/netlink"
)

// ErrInvalid matches errors for requests refused before anything was sent:
// flag combinations the kernel rejects, limits above MaxLimit, deleting id
// 0 without an address. ip(8) exits 255 for these and 2 for refusals by the
// kernel; test with errors.Is(err, ErrInvalid).
var ErrInvalid = errors.New("invalid request")

// An Error is a failed path-manager operation. Err is the kernel's errno
// (a unix.Errno, so errors.Is(err, unix.EEXIST) works) or, when Local is
// set, the reason client-side validation gave.
//
// Op says what was being done ("adding endpoint"), Endpoint or ID which
// entry it concerned (the zero Endpoint and ID 0 for whole-table and limits
// operations), Message and Offset the kernel's extended acknowledgement
// (Message is empty when the kernel sent none).
type Error struct {
	Op       string
	Endpoint Endpoint
	ID       uint8
	Message  string
	Offset   int
	Local    bool
	Err      error
}

// Error formats e as "OP OBJECT: MESSAGE: ERRNO TEXT", e.g. "adding endpoint
// 192.0.2.10 dev if3: too many addresses or duplicate one: -17: file
// exists".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if o := e.object(); o != "" {
		b.WriteString(" " + o)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}

	return b.String()
}

// Unwrap returns the errno or the validation error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes a locally refused request match ErrInvalid.
func (e *Error) Is(target error) bool { return e.Local && target == ErrInvalid }

// object names the entry the operation concerned: the endpoint's address,
// port, id and device, without flags, or the bare id.
func (e *Error) object() string {
	if e.Endpoint.Addr.IsValid() {
		return describe(e.Endpoint)
	}
	if e.ID != 0 {
		return fmt.Sprintf("id %d", e.ID)
	}

	return ""
}

// describe names an endpoint as `ip mptcp endpoint` arguments do.
func describe(ep Endpoint) string {
	var b strings.Builder
	b.WriteString(ep.Addr.String())
	if ep.Port != 0 {
		fmt.Fprintf(&b, " port %d", ep.Port)
	}
	if ep.ID != 0 {
		fmt.Fprintf(&b, " id %d", ep.ID)
	}
	if ep.Ifindex != 0 {
		fmt.Fprintf(&b, " dev if%d", ep.Ifindex)
	}

	return b.String()
}

// A LimitError is a limit above MaxLimit, refused before anything is sent
// (inside an *Error that matches ErrInvalid). Its text is the kernel's,
// which names no value ("limit greater than maximum (8)"), so that a CLI
// prints what ip(8) prints; Name and Value say which limit and what it was.
type LimitError struct {
	Name  string // "subflows" or "add_addr_accepted"
	Value uint32
}

// Error returns the kernel's extended-ack text for the refusal.
func (e *LimitError) Error() string {
	return fmt.Sprintf("limit greater than maximum (%d)", MaxLimit)
}

// kernelError wraps err from a netlink exchange into an *Error, lifting the
// errno and extended-ack text out of mdlayher's *netlink.OpError.
func kernelError(op string, ep Endpoint, id uint8, err error) error {
	e := &Error{Op: op, Endpoint: ep, ID: id, Err: err}
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		e.Err, e.Message, e.Offset = oe.Err, oe.Message, oe.Offset
	}

	return e
}

// invalid returns a locally refused request.
func invalid(op string, ep Endpoint, id uint8, reason error) error {
	return &Error{Op: op, Endpoint: ep, ID: id, Local: true, Err: reason}
}

// validateEndpoint checks e before an add, returning Validate's reasons
// without its "endpoint ...:" prefix, which the *Error already carries.
func validateEndpoint(e Endpoint) error {
	err := e.Validate()
	if err == nil {
		return nil
	}
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}

	return err
}

// ValidateFlagsChange checks the flags of a `change` request: only backup
// and fullmesh can be changed in place (ip-mptcp(8)); SetFlags itself
// ignores the other bits, as the kernel does.
func ValidateFlagsChange(f Flags) error {
	if f&^InPlace != 0 {
		return fmt.Errorf("%w: invalid flags %q, backup and fullmesh only",
			ErrInvalid, f&^InPlace)
	}

	return nil
}
