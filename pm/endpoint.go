package pm

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxEndpoints is the kernel's per-namespace endpoint capacity
// (MPTCP_PM_ADDR_MAX); the next add fails with ERANGE.
const MaxEndpoints = 8

// MaxLimit is the largest value either limit accepts (MPTCP_PM_ADDR_MAX).
const MaxLimit = 8

// An Endpoint is one entry of the in-kernel path manager's table.
//
// ID 0 means "let the kernel choose" on add; the kernel never stores id 0.
// Port 0 means no port. Ifindex 0 means the endpoint is bound to no device.
type Endpoint struct {
	ID      uint8
	Addr    netip.Addr
	Port    uint16
	Flags   Flags
	Ifindex int32
}

// Key identifies an endpoint the way the kernel's duplicate check does: by
// address, and by port only for signal endpoints that carry one.
type Key struct {
	Addr netip.Addr
	Port uint16
}

// Key returns the endpoint's identity in the table, independent of its id.
func (e Endpoint) Key() Key { return Key{Addr: e.Addr, Port: e.Port} }

// String formats e as `ip mptcp endpoint show` does, with the device given as
// its index ("dev if3"); use Format to name devices.
func (e Endpoint) String() string { return e.Format(nil) }

// Format formats e as `ip mptcp endpoint show` prints it, without iproute2's
// trailing space. ifname maps an ifindex to a name; a nil func or an empty
// result prints "ifN", as iproute2 does for a vanished interface.
func (e Endpoint) Format(ifname func(int32) string) string {
	var b strings.Builder
	b.WriteString(e.Addr.String())
	if e.Port != 0 {
		fmt.Fprintf(&b, " port %d", e.Port)
	}
	fmt.Fprintf(&b, " id %d", e.ID)
	if f := e.Flags.String(); f != "" {
		b.WriteString(" " + f)
	}
	if e.Ifindex != 0 {
		name := ""
		if ifname != nil {
			name = ifname(e.Ifindex)
		}
		if name == "" {
			name = fmt.Sprintf("if%d", e.Ifindex)
		}
		b.WriteString(" dev " + name)
	}

	return b.String()
}

// Validate checks the flag combinations the kernel refuses on add, so that a
// caller learns why before anything is sent (net/mptcp/pm_netlink.c,
// mptcp_pm_parse_entry).
func (e Endpoint) Validate() error {
	var errs []error
	if !e.Addr.IsValid() {
		errs = append(errs, errors.New("endpoint needs an address"))
	}
	if e.Flags.Has(FlagSignal | FlagFullmesh) {
		errs = append(errs, errors.New("flags mustn't have both signal and fullmesh"))
	}
	if e.Port != 0 && (!e.Flags.Has(FlagSignal) || e.Flags.Has(FlagSubflow)) {
		errs = append(errs, errors.New("flags must have signal and not subflow when using port"))
	}
	if e.Flags.Has(FlagImplicit) {
		errs = append(errs, errors.New("can't create IMPLICIT endpoint"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("endpoint %s: %w", e, err)
	}

	return nil
}

// Limits are the per-namespace limits of the in-kernel path manager.
// Subflows counts extra subflows per connection (the initial one is not
// counted); AddAddrAccepted is how many ADD_ADDR announcements a connection
// accepts. Each is 0..MaxLimit.
type Limits struct {
	AddAddrAccepted uint32
	Subflows        uint32
}

// String formats l as `ip mptcp limits show` does, without the trailing
// space.
func (l Limits) String() string {
	return fmt.Sprintf("add_addr_accepted %d subflows %d", l.AddAddrAccepted, l.Subflows)
}

// Validate checks the kernel's bound on both limits.
func (l Limits) Validate() error {
	if l.AddAddrAccepted > MaxLimit || l.Subflows > MaxLimit {
		return fmt.Errorf("limits %s: limit greater than maximum (%d)", l, MaxLimit)
	}

	return nil
}
