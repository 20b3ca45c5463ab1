package watchers

import (
	"net/netip"
	"time"
)

// A Snapshot is the whole network state of one namespace as the watchers
// last saw it. Watchers hand out a fresh Snapshot after every change; its
// slices are never modified afterwards, so readers need no lock.
type Snapshot struct {
	Links  []Link
	Addrs  []Addr
	Routes []Route
	// MPTCP holds what MPTCP events said about subflows, per local address.
	MPTCP MPTCPStats
	// Seq counts the changes seen; it grows with every new Snapshot.
	Seq uint64
	// Taken is when the snapshot was made.
	Taken time.Time
}

// Link is one network interface.
type Link struct {
	Index     int
	Name      string
	Kind      string // rtnetlink IFLA_INFO_KIND: "veth", "bridge", "" for hardware
	Type      string // detected type, see DetectType: "wifi", "wwan", "ethernet", ...
	Up        bool   // administratively up (IFF_UP)
	Carrier   bool   // IFF_LOWER_UP
	OperState string // "up", "down", "dormant", "unknown", ...
	MTU       int
	Master    int // ifindex of the master device, 0 if none
	Flags     uint32
	ARPType   uint16
}

// Addr is one interface address.
type Addr struct {
	Index  int // ifindex of the link that holds it
	Prefix netip.Prefix
	Scope  uint8 // RT_SCOPE_*: 0 universe, 253 link, 254 host
	// IFA_F_* flags: tentative, dadfailed, temporary, deprecated, ...
	Flags uint32
	// Lifetimes in seconds; Forever for an address that never expires.
	PreferredLft uint32
	ValidLft     uint32
}

// Forever is the lifetime of a permanent address (INFINITY_LIFE_TIME).
const Forever = ^uint32(0)

// IFA_F_* address flags from include/uapi/linux/if_addr.h.
const (
	AddrTemporary  = 0x01
	AddrNoDAD      = 0x02
	AddrOptimistic = 0x04
	AddrDADFailed  = 0x08
	AddrHomeAddr   = 0x10
	AddrDeprecated = 0x20
	AddrTentative  = 0x40
	AddrPermanent  = 0x80
	AddrMngTmpAddr = 0x100
)

// Route is one route, from any routing table.
type Route struct {
	Family    int // 4 or 6
	Dst       netip.Prefix
	LinkIndex int // output interface; for multipath routes, one Route per hop
	Gateway   netip.Addr
	Metric    int
	Table     int
	// Linkdown is set when the kernel marks the next hop dead because its
	// link lost carrier (RTNH_F_LINKDOWN).
	Linkdown bool
}

// Default reports whether r is a default route.
func (r Route) Default() bool { return r.Dst.IsValid() && r.Dst.Bits() == 0 }

// MPTCPStats counts subflows per local address, from MPTCP events.
type MPTCPStats struct {
	Connections int
	// Announced counts the addresses peers announced (ADD_ADDR) to the
	// open connections and have not removed since.
	Announced int
	// Subflows is keyed by local address (and ifindex when the event had
	// one), never by local id: subflows from the initial address carry id 0.
	Subflows map[SubflowKey]SubflowCount
}

// SubflowKey identifies the local end of subflows.
type SubflowKey struct {
	Addr    netip.Addr
	Ifindex int
}

// SubflowCount is what events said about the subflows from one address.
type SubflowCount struct {
	Established int // currently open
	Closed      int // closed since the daemon started
	Failed      int // closed with an error
}
