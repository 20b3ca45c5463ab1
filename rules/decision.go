package rules

import (
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// A Decision is what the rules say about one address.
//
// Rule names the rule that matched, "" when none did (the address then gets
// no endpoint). Skip means the rule keeps MPTCP off the address. Otherwise
// Flags (and Port, for a signal endpoint with a port) are the endpoint
// wanted.
type Decision struct {
	Rule  string
	Skip  bool
	Flags pm.Flags
	Port  uint16
}

// Settings are the daemon's settings from the rules file. The zero value is
// the default of every setting except where noted.
type Settings struct {
	// ResyncInterval is how often the kernel is re-read to repair edits
	// that sent no event; 0 means DefaultResync.
	ResyncInterval time.Duration
	// Types overrides the detected link type by interface name glob
	// (path.Match syntax); the first matching glob wins.
	Types []TypeOverride
	// Hygiene relaxes the built-in hygiene checks; readiness checks
	// (tentative, DAD failed, link down, no carrier) cannot be relaxed.
	Hygiene Hygiene
	// ManageAll makes the daemon remove endpoints of live addresses that
	// the rules skip even when someone else made them.
	ManageAll bool
	// NoEmbedded turns the embedded default rules off; by default they
	// follow the file's rules as the fallback.
	NoEmbedded bool
	// Limits says how each limit is set.
	Limits LimitsSetting
}

// DefaultResync is the periodic resync interval when none is set.
const DefaultResync = 30 * time.Second

// TypeOverride sets the type of every link whose name matches Glob.
type TypeOverride struct {
	Glob string
	Type string
}

// Hygiene lists the hygiene checks that are relaxed; each true field lets
// such addresses become eligible.
type Hygiene struct {
	AllowLoopback       bool
	AllowLinkLocal      bool // IPv4 169.254/16 and IPv6 fe80::/10
	AllowULA            bool // IPv6 fc00::/7
	AllowTemporary      bool // IPv6 privacy addresses
	AllowDeprecated     bool // preferred lifetime 0
	AllowNoDefaultRoute bool // no default route for the family through the link
}

// LimitMode says how one limit is set.
type LimitMode int

// The limit modes. LimitAuto, the zero value, computes the limit from the
// resulting endpoint table (see AutoLimits).
const (
	LimitAuto  LimitMode = iota // computed, the default
	LimitKeep                   // never touched
	LimitFixed                  // set to Value
)

// Limit is the setting of one limit.
type Limit struct {
	Mode  LimitMode
	Value uint32 // with LimitFixed, 0..pm.MaxLimit
}

// LimitsSetting holds the setting of both limits.
type LimitsSetting struct {
	Subflows        Limit
	AddAddrAccepted Limit
}
