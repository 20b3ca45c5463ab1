package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The floor is the least a path manager can do, run as a daemon of its own
// like the others (`bench -floor`, inside the namespace): it follows
// rtnetlink and, the moment an event arrives, adds or deletes one
// "subflow" endpoint per global IPv4 address on a link with carrier. It
// checks no route, debounces nothing and keeps no rules; it writes one
// "op add|del ..." line per kernel operation.
type floorPM struct {
	pm      *pm.Client
	carrier map[int]bool
	addrs   map[int]map[netip.Addr]bool
	ids     map[netip.Addr]uint8
}

func runFloor() error {
	c, err := pm.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()

	f := &floorPM{
		pm:      c,
		carrier: map[int]bool{},
		addrs:   map[int]map[netip.Addr]bool{},
		ids:     map[netip.Addr]uint8{},
	}

	return f.follow()
}

func (f *floorPM) follow() error {
	done := make(chan struct{})
	defer close(done)

	links := make(chan netlink.LinkUpdate, 1024)
	addrs := make(chan netlink.AddrUpdate, 1024)
	errs := make(chan error, 2)
	onErr := func(err error) { errs <- err }

	// Links first, listed before addresses, so that the first address
	// event finds its link's carrier known.
	err := netlink.LinkSubscribeWithOptions(links, done,
		netlink.LinkSubscribeOptions{ListExisting: true, ErrorCallback: onErr})
	if err != nil {
		return fmt.Errorf("subscribing to links: %w", err)
	}

	ls, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	for _, l := range ls {
		f.carrier[l.Attrs().Index] = l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	}

	err = netlink.AddrSubscribeWithOptions(addrs, done,
		netlink.AddrSubscribeOptions{ListExisting: true, ErrorCallback: onErr})
	if err != nil {
		return fmt.Errorf("subscribing to addresses: %w", err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	for {
		select {
		case u := <-links:
			f.link(u)
		case u := <-addrs:
			f.addr(u)
		case err := <-errs:
			return fmt.Errorf("following rtnetlink: %w", err)
		case <-sig:
			return nil
		}
	}
}

func (f *floorPM) link(u netlink.LinkUpdate) {
	idx := int(u.Index)
	if u.Header.Type == unix.RTM_DELLINK {
		for a := range f.addrs[idx] {
			f.del(a)
		}
		delete(f.addrs, idx)
		delete(f.carrier, idx)
		return
	}

	on := u.IfInfomsg.Flags&unix.IFF_LOWER_UP != 0
	if on == f.carrier[idx] {
		return
	}
	f.carrier[idx] = on
	for a := range f.addrs[idx] {
		if on {
			f.add(a, idx)
		} else {
			f.del(a)
		}
	}
}

func (f *floorPM) addr(u netlink.AddrUpdate) {
	a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
	if !ok {
		return
	}
	a = a.Unmap()
	if !a.Is4() || !a.IsGlobalUnicast() {
		return
	}

	if !u.NewAddr {
		delete(f.addrs[u.LinkIndex], a)
		f.del(a)
		return
	}

	if f.addrs[u.LinkIndex] == nil {
		f.addrs[u.LinkIndex] = map[netip.Addr]bool{}
	}
	f.addrs[u.LinkIndex][a] = true
	if f.carrier[u.LinkIndex] {
		f.add(a, u.LinkIndex)
	}
}

func (f *floorPM) add(a netip.Addr, ifindex int) {
	if _, ok := f.ids[a]; ok {
		return
	}

	e, err := f.pm.AddEndpoint(pm.Endpoint{
		Addr: a, Flags: pm.FlagSubflow, Ifindex: int32(ifindex),
	})
	fmt.Printf("op add %s dev if%d\n", a, ifindex)
	if errors.Is(err, unix.EEXIST) {
		e, err = f.lookup(a)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		return
	}
	f.ids[a] = e.ID
}

// lookup finds the endpoint of a that someone else added.
func (f *floorPM) lookup(a netip.Addr) (pm.Endpoint, error) {
	eps, err := f.pm.Endpoints()
	if err != nil {
		return pm.Endpoint{}, err
	}
	for _, e := range eps {
		if e.Addr == a {
			return e, nil
		}
	}

	return pm.Endpoint{}, fmt.Errorf("endpoint %s: vanished", a)
}

func (f *floorPM) del(a netip.Addr) {
	id, ok := f.ids[a]
	if !ok {
		return
	}
	delete(f.ids, a)

	err := f.pm.DeleteEndpoint(id, a)
	fmt.Printf("op del %s id %d\n", a, id)
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
	}
}
