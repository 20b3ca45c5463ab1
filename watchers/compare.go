package watchers

import (
	"maps"
	"slices"
)

// SameNetwork reports whether s and o hold the same links, addresses and
// routes, whatever their MPTCP facts, Seq and Taken. Snapshots are sorted,
// so equal states compare equal.
func (s Snapshot) SameNetwork(o Snapshot) bool {
	return slices.Equal(s.Links, o.Links) &&
		slices.Equal(s.Addrs, o.Addrs) &&
		slices.Equal(s.Routes, o.Routes)
}

// Equal reports whether m and o count the same connections, announced
// addresses and subflows. A nil and an empty Subflows are equal.
func (m MPTCPStats) Equal(o MPTCPStats) bool {
	return m.Connections == o.Connections && m.Announced == o.Announced &&
		maps.Equal(m.Subflows, o.Subflows)
}
