package pm

import (
	"fmt"
	"strings"
)

// Flags are the endpoint flags of the in-kernel path manager
// (MPTCP_PM_ADDR_FLAG_*). The zero value is an endpoint that neither
// announces nor opens subflows; it only lends its id and backup bit to
// subflows that happen to use its address.
type Flags uint32

// The endpoint flag bits, numbered as in include/uapi/linux/mptcp.h. They are
// hard-coded because distribution headers lag the kernel (Debian 12 ships
// 6.1's header, which has no LAMINAR).
const (
	FlagSignal   Flags = 1 << 0 // announce the address to peers (ADD_ADDR)
	FlagSubflow  Flags = 1 << 1 // open a subflow from the address
	FlagBackup   Flags = 1 << 2 // subflows from the address are backup
	FlagFullmesh Flags = 1 << 3 // one subflow to every known peer address
	FlagImplicit Flags = 1 << 4 // made by the kernel; users cannot set it
	FlagLaminar  Flags = 1 << 5 // source for answering ADD_ADDR (6.18)
)

// flagNames lists the named flags in the order iproute2 prints them.
var flagNames = []struct {
	flag Flags
	name string
}{
	{FlagSignal, "signal"},
	{FlagSubflow, "subflow"},
	{FlagBackup, "backup"},
	{FlagFullmesh, "fullmesh"},
	{FlagImplicit, "implicit"},
	{FlagLaminar, "laminar"},
}

// Names returns the names of the known flags that are set, in iproute2's
// order, and the bits that no name covers.
func (f Flags) Names() (names []string, unknown Flags) {
	for _, fn := range flagNames {
		if f&fn.flag != 0 {
			names = append(names, fn.name)
			f &^= fn.flag
		}
	}

	return names, f
}

// String formats f as ip-mptcp(8) prints it: the flag names separated by
// spaces, then "rawflags XX" for unknown bits. The zero value prints as "".
func (f Flags) String() string {
	names, unknown := f.Names()
	if unknown != 0 {
		names = append(names, fmt.Sprintf("rawflags %02x", uint32(unknown)))
	}

	return strings.Join(names, " ")
}

// ParseFlag returns the flag named name ("signal", "subflow", "backup",
// "fullmesh", "implicit" or "laminar").
func ParseFlag(name string) (Flags, error) {
	for _, fn := range flagNames {
		if fn.name == name {
			return fn.flag, nil
		}
	}

	return 0, fmt.Errorf("unknown endpoint flag %q", name)
}

// ParseFlags parses a list of flag names.
func ParseFlags(names []string) (Flags, error) {
	var f Flags
	for _, n := range names {
		bit, err := ParseFlag(n)
		if err != nil {
			return 0, err
		}
		f |= bit
	}

	return f, nil
}

// Has reports whether every bit of want is set in f.
func (f Flags) Has(want Flags) bool { return f&want == want }

// InPlace is the part of the flags that SET_FLAGS can change on an existing
// endpoint: the kernel assigns backup and fullmesh together and ignores the
// rest (net/mptcp/pm_kernel.c, mptcp_pm_nl_set_flags).
const InPlace = FlagBackup | FlagFullmesh
