package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// An env is the network a contestant manages: namespace host holds the
// links the daemon watches, namespace net holds their far ends, the
// gateways. Link k is host's links[k].name (ifindex 10+k) paired with
// net's "n<k>" (ifindex 40+k); its subnet is 10.1.k.0/24, the gateway
// 10.1.k.254 and host's first address 10.1.k.1, with a default route of
// metric 100+k.
type env struct {
	host, net *netNS
	links     []envLink
}

type envLink struct {
	name, peer string
	index      int
	up         netlink.Link // host end
	far        netlink.Link // net end
}

// newEnv builds an env whose links are named names.
func newEnv(tag string, names ...string) (*env, error) {
	host, err := newNS(tag + "-h")
	if err != nil {
		return nil, err
	}

	netns, err := newNS(tag + "-n")
	if err != nil {
		return nil, err
	}

	e := &env{host: host, net: netns}
	for k, name := range names {
		if err := e.addLink(k, name); err != nil {
			return nil, fmt.Errorf("building %s: %w", tag, err)
		}
	}

	return e, nil
}

func (e *env) addLink(k int, name string) error {
	l := envLink{name: name, peer: fmt.Sprintf("n%d", k), index: 10 + k}
	err := e.host.veth(l.name, l.index, e.net, l.peer, 40+k)
	if err != nil {
		return err
	}

	if err := e.net.ip("addr", "add", gateway(k).String()+"/24",
		"dev", l.peer); err != nil {
		return err
	}

	if l.up, err = e.host.nl.LinkByName(l.name); err != nil {
		return fmt.Errorf("finding %s: %w", l.name, err)
	}

	if l.far, err = e.net.nl.LinkByName(l.peer); err != nil {
		return fmt.Errorf("finding %s: %w", l.peer, err)
	}
	e.links = append(e.links, l)

	if err := e.addAddr(k, 1); err != nil {
		return err
	}

	return e.addRoute(k)
}

// addr is host h of link k's subnet.
func addr(k, h int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 1, byte(k), byte(h)})
}

func gateway(k int) netip.Addr { return addr(k, 254) }

func ipnet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(24, 32)}
}

// addAddr adds 10.1.k.h/24 to link k in one RTM_NEWADDR.
func (e *env) addAddr(k, h int) error { return e.addIP(k, addr(k, h)) }

// delAddr deletes 10.1.k.h/24 from link k. When it was the link's last
// IPv4 address the kernel drops the link's routes as well
// (net/ipv4/fib_frontend.c, fib_disable_ip).
func (e *env) delAddr(k, h int) error { return e.delIP(k, addr(k, h)) }

// addIP adds ip/24 to link k.
func (e *env) addIP(k int, ip netip.Addr) error {
	a := &netlink.Addr{IPNet: ipnet(ip)}
	if err := e.host.nl.AddrAdd(e.links[k].up, a); err != nil {
		return fmt.Errorf("adding %s to %s: %w", a.IPNet, e.links[k].name,
			err)
	}

	return nil
}

// delIP deletes ip/24 from link k.
func (e *env) delIP(k int, ip netip.Addr) error {
	a := &netlink.Addr{IPNet: ipnet(ip)}
	if err := e.host.nl.AddrDel(e.links[k].up, a); err != nil {
		return fmt.Errorf("deleting %s from %s: %w", a.IPNet,
			e.links[k].name, err)
	}

	return nil
}

// addRoute adds link k's default route, via its gateway, metric 100+k.
func (e *env) addRoute(k int) error {
	r := &netlink.Route{
		LinkIndex: e.links[k].index,
		Gw:        gateway(k).AsSlice(),
		Priority:  100 + k,
	}
	if err := e.host.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("adding default route via %s: %w", gateway(k),
			err)
	}

	return nil
}

// carrier sets link k's far end up or down, so that link k gains or loses
// carrier and keeps its addresses.
func (e *env) carrier(k int, on bool) error {
	var err error
	if on {
		err = e.net.nl.LinkSetUp(e.links[k].far)
	} else {
		err = e.net.nl.LinkSetDown(e.links[k].far)
	}
	if err != nil {
		return fmt.Errorf("setting %s up=%t: %w", e.links[k].peer, on, err)
	}

	return nil
}

func (e *env) close() {
	e.host.close()
	e.net.close()
}
