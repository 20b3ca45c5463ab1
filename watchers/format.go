package watchers

import (
	"fmt"
	"slices"
	"strings"
)

// String renders s as text, one object a line, in the spirit of `ip link`,
// `ip addr` and `ip route show table all`, so that tests compare and print
// one string. Seq and Taken are left out: they differ between equal states.
func (s Snapshot) String() string {
	var b strings.Builder
	for _, l := range s.Links {
		b.WriteString(l.String() + "\n")
	}
	for _, a := range s.Addrs {
		b.WriteString(a.String() + "\n")
	}
	for _, r := range s.Routes {
		b.WriteString(r.String() + "\n")
	}
	if m := s.MPTCP.String(); m != "" {
		b.WriteString(m)
	}

	return b.String()
}

// String formats l as "link 3 eth0 kind veth type veth up carrier
// operstate up mtu 1500".
func (l Link) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "link %d %s", l.Index, l.Name)
	if l.Kind != "" {
		b.WriteString(" kind " + l.Kind)
	}
	if l.Type != "" {
		b.WriteString(" type " + l.Type)
	}
	if l.Up {
		b.WriteString(" up")
	}
	if l.Carrier {
		b.WriteString(" carrier")
	}
	fmt.Fprintf(&b, " operstate %s mtu %d", l.OperState, l.MTU)
	if l.Master != 0 {
		fmt.Fprintf(&b, " master %d", l.Master)
	}

	return b.String()
}

// addrFlagNames lists the IFA_F_* flags by name, in iproute2's order.
var addrFlagNames = []struct {
	flag uint32
	name string
}{
	{AddrTemporary, "temporary"},
	{AddrNoDAD, "nodad"},
	{AddrOptimistic, "optimistic"},
	{AddrDADFailed, "dadfailed"},
	{AddrHomeAddr, "home"},
	{AddrDeprecated, "deprecated"},
	{AddrTentative, "tentative"},
	{AddrPermanent, "permanent"},
	{AddrMngTmpAddr, "mngtmpaddr"},
}

// String formats a as "addr 3 10.0.0.1/24 scope 0 permanent lft forever
// forever"; lifetimes that expire print as "finite", since their value
// changes with every message.
func (a Addr) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "addr %d %s scope %d", a.Index, a.Prefix, a.Scope)
	for _, f := range addrFlagNames {
		if a.Flags&f.flag != 0 {
			b.WriteString(" " + f.name)
		}
	}
	fmt.Fprintf(&b, " lft %s %s", lifetime(a.ValidLft),
		lifetime(a.PreferredLft))

	return b.String()
}

func lifetime(secs uint32) string {
	switch secs {
	case Forever:
		return "forever"
	case 0:
		return "0"
	}

	return "finite"
}

// String formats r as "route table 254 default via 10.0.0.254 dev 3
// metric 0", with " linkdown" when the next hop is down.
func (r Route) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "route table %d ", r.Table)
	if r.Default() {
		fmt.Fprintf(&b, "default%d", r.Family)
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gateway.IsValid() {
		b.WriteString(" via " + r.Gateway.String())
	}
	fmt.Fprintf(&b, " dev %d metric %d", r.LinkIndex, r.Metric)
	if r.Linkdown {
		b.WriteString(" linkdown")
	}

	return b.String()
}

// String formats the counters, one line for the connections and one per
// local address, sorted; "" when no event was counted.
func (m MPTCPStats) String() string {
	if m.Connections == 0 && m.Announced == 0 && len(m.Subflows) == 0 {
		return ""
	}

	lines := make([]string, 0, len(m.Subflows))
	for k, c := range m.Subflows {
		lines = append(lines, fmt.Sprintf(
			"subflows %s dev %d established %d closed %d failed %d",
			k.Addr, k.Ifindex, c.Established, c.Closed, c.Failed))
	}
	slices.Sort(lines)

	return fmt.Sprintf("mptcp connections %d announced %d\n",
		m.Connections, m.Announced) +
		strings.Join(append(lines, ""), "\n")
}
