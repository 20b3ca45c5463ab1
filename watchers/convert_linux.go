package watchers

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// rtnhLinkdown is RTNH_F_LINKDOWN from include/uapi/linux/rtnetlink.h.
const rtnhLinkdown = 0x10

// linkOf converts a decoded link. The type is detected from rtnetlink
// facts, plus sysfs facts when sysfs is not nil.
func linkOf(l netlink.Link, sysfs func(Facts) Facts) Link {
	a := l.Attrs()
	out := Link{
		Index:     a.Index,
		Name:      a.Name,
		Kind:      kindOf(l),
		Up:        a.RawFlags&unix.IFF_UP != 0,
		Carrier:   a.RawFlags&unix.IFF_LOWER_UP != 0,
		OperState: operState(a.OperState),
		MTU:       a.MTU,
		Master:    a.MasterIndex,
		Flags:     a.RawFlags,
		ARPType:   arphrdOf(a.EncapType),
	}

	f := Facts{Name: out.Name, Kind: out.Kind, ARPType: out.ARPType}
	if sysfs != nil {
		f = sysfs(f)
	}
	out.Type = DetectType(f)

	return out
}

// kindOf returns IFLA_INFO_KIND as the kernel spells it. The library
// decodes a link without a kind as *netlink.Device ("device") and names a
// "tun" link "tuntap".
func kindOf(l netlink.Link) string {
	switch l.(type) {
	case *netlink.Device:
		return ""
	case *netlink.Tuntap:
		return "tun"
	}

	return l.Type()
}

// operState spells IFLA_OPERSTATE as `ip link` does (RFC 2863 names,
// lowercase), where the library writes "lower-layer-down".
func operState(s netlink.LinkOperState) string {
	switch s {
	case netlink.OperNotPresent:
		return "notpresent"
	case netlink.OperLowerLayerDown:
		return "lowerlayerdown"
	}

	return s.String()
}

// arphrdNames maps the library's names of ARPHRD values back to the
// values: LinkAttrs keeps only the name (nl.IfInfomsg.EncapType), and
// "unknownN" for a value it has no name for.
var arphrdNames = sync.OnceValue(func() map[string]uint16 {
	names := make(map[string]uint16)
	for t := range uint32(1 << 16) {
		msg := nl.IfInfomsg{IfInfomsg: unix.IfInfomsg{Type: uint16(t)}}
		name := msg.EncapType()
		if _, dup := names[name]; !dup && !strings.HasPrefix(name, "unknown") {
			names[name] = uint16(t)
		}
	}

	return names
})

func arphrdOf(name string) uint16 {
	if n, ok := strings.CutPrefix(name, "unknown"); ok {
		t, _ := strconv.ParseUint(n, 10, 16)
		return uint16(t)
	}

	return arphrdNames()[name]
}

// addrOf converts an address from a dump.
func addrOf(a netlink.Addr) (Addr, bool) {
	return addrFrom(a.IPNet, a.LinkIndex, a.Scope, a.Flags, a.PreferedLft,
		a.ValidLft)
}

// addrOfUpdate converts an address from RTM_NEWADDR or RTM_DELADDR.
func addrOfUpdate(u netlink.AddrUpdate) (Addr, bool) {
	return addrFrom(&u.LinkAddress, u.LinkIndex, u.Scope, u.Flags,
		u.PreferedLft, u.ValidLft)
}

func addrFrom(n *net.IPNet, index, scope, flags, preferred, valid int,
) (Addr, bool) {
	p, ok := prefixOf(n)
	if !ok {
		return Addr{}, false
	}

	return Addr{
		Index:        index,
		Prefix:       p,
		Scope:        uint8(scope),
		Flags:        uint32(flags),
		PreferredLft: uint32(preferred),
		ValidLft:     uint32(valid),
	}, true
}

// prefixOf converts n, keeping IPv4 as 4 bytes.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if bits == 32 {
		ip = ip.Unmap()
	}

	return netip.PrefixFrom(ip, ones), true
}

// routesOf converts a route to one Route per next hop. It returns nothing
// for what is not a unicast route a packet could leave by: local,
// broadcast, multicast, blackhole and unreachable routes, and cached
// clones (RTM_F_CLONED, IPv6 exceptions).
func routesOf(r netlink.Route) []Route {
	if r.Type != unix.RTN_UNICAST || r.Flags&unix.RTM_F_CLONED != 0 {
		return nil
	}
	dst, ok := prefixOf(r.Dst)
	if !ok {
		return nil
	}

	base := Route{
		Family: familyOf(r.Family),
		Dst:    dst,
		Metric: r.Priority,
		Table:  r.Table,
	}
	if len(r.MultiPath) == 0 {
		base.LinkIndex = r.LinkIndex
		base.Gateway = addrOfIP(r.Gw)
		base.Linkdown = r.Flags&rtnhLinkdown != 0

		return []Route{base}
	}

	hops := make([]Route, 0, len(r.MultiPath))
	for _, nh := range r.MultiPath {
		hop := base
		hop.LinkIndex = nh.LinkIndex
		hop.Gateway = addrOfIP(nh.Gw)
		hop.Linkdown = nh.Flags&rtnhLinkdown != 0
		hops = append(hops, hop)
	}

	return hops
}

func familyOf(f int) int {
	if f == unix.AF_INET6 {
		return 6
	}

	return 4
}

func addrOfIP(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)

	return a.Unmap()
}
