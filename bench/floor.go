package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
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
	// collecting is set while a resync dumps: messages then update the
	// state only, and sync acts once the dumps are done.
	collecting bool
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

// follow reads rtnetlink on one locked thread and acts on each message as
// it is parsed: no goroutine or channel stands between the socket and the
// kernel operation. It subscribes first and dumps links, then addresses,
// so that nothing falls between the dump and the first event. SIGTERM
// ends the process the default way.
func (f *floorPM) follow() error {
	runtime.LockOSThread()

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC,
		unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening rtnetlink: %w", err)
	}
	defer unix.Close(fd)

	// A deep buffer: each endpoint delete blocks the floor for ~13 ms.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)

	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR)
	err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups})
	if err != nil {
		return fmt.Errorf("joining rtnetlink groups: %w", err)
	}

	for seq := uint32(1); ; seq += 2 {
		err := f.resync(fd, seq)
		if err == nil {
			err = f.read(fd, 0)
		}
		if !errors.Is(err, unix.ENOBUFS) {
			return err
		}
		// Events were lost: netlink multicast is lossy. Dump again.
		fmt.Fprintln(os.Stderr, "floor: rtnetlink overrun, resyncing")
	}
}

// resync dumps links, then addresses, into fresh state, and then makes
// the endpoints it owns match that state.
func (f *floorPM) resync(fd int, seq uint32) error {
	f.carrier = map[int]bool{}
	f.addrs = map[int]map[netip.Addr]bool{}
	f.collecting = true
	for i, typ := range []uint16{unix.RTM_GETLINK, unix.RTM_GETADDR} {
		if err := dumpRequest(fd, typ, seq+uint32(i)); err != nil {
			return err
		}
		if err := f.read(fd, seq+uint32(i)); err != nil {
			return err
		}
	}
	f.collecting = false
	f.sync()

	return nil
}

// sync deletes the endpoints the floor made whose address is gone or
// without carrier, and adds those missing.
func (f *floorPM) sync() {
	want := map[netip.Addr]int{}
	for idx, as := range f.addrs {
		for a := range as {
			if f.carrier[idx] {
				want[a] = idx
			}
		}
	}
	for a := range f.ids {
		if _, ok := want[a]; !ok {
			f.del(a)
		}
	}
	for a, idx := range want {
		f.add(a, idx)
	}
}

// dumpRequest asks for every link or IPv4 address.
func dumpRequest(fd int, typ uint16, seq uint32) error {
	b := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	h := (*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
	*h = unix.NlMsghdr{
		Len:   uint32(len(b)),
		Type:  typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP,
		Seq:   seq,
	}
	b[unix.NLMSG_HDRLEN] = unix.AF_INET // rtgen_family / ifi_family

	err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	if err != nil {
		return fmt.Errorf("requesting rtnetlink dump: %w", err)
	}

	return nil
}

// read handles messages until the dump numbered done ends; with done 0 it
// never returns but on error.
func (f *floorPM) read(fd int, done uint32) error {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("reading rtnetlink: %w", err)
		}
		if n < unix.NLMSG_HDRLEN {
			continue
		}

		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("parsing rtnetlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_DONE && done != 0 && m.Header.Seq == done {
				return nil
			}
			f.handle(m)
		}
	}
}

func (f *floorPM) handle(m syscall.NetlinkMessage) {
	switch m.Header.Type {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(m.Data) < unix.SizeofIfInfomsg {
			return
		}
		ifi := (*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		f.link(int(ifi.Index), m.Header.Type == unix.RTM_DELLINK,
			ifi.Flags&unix.IFF_LOWER_UP != 0)
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		if len(m.Data) < unix.SizeofIfAddrmsg {
			return
		}
		ifa := (*unix.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil || ifa.Family != unix.AF_INET {
			return
		}
		for _, a := range attrs {
			if a.Attr.Type != unix.IFA_LOCAL {
				continue
			}
			ip, ok := netip.AddrFromSlice(a.Value)
			if ok {
				f.addr(int(ifa.Index), ip, m.Header.Type == unix.RTM_NEWADDR)
			}
		}
	}
}

func (f *floorPM) link(idx int, gone, on bool) {
	if f.collecting {
		if !gone {
			f.carrier[idx] = on
		}
		return
	}
	if gone {
		for a := range f.addrs[idx] {
			f.del(a)
		}
		delete(f.addrs, idx)
		delete(f.carrier, idx)
		return
	}

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

func (f *floorPM) addr(idx int, a netip.Addr, added bool) {
	if !a.IsGlobalUnicast() {
		return
	}

	if !added {
		delete(f.addrs[idx], a)
		if !f.collecting {
			f.del(a)
		}
		return
	}

	if f.addrs[idx] == nil {
		f.addrs[idx] = map[netip.Addr]bool{}
	}
	f.addrs[idx][a] = true
	if f.carrier[idx] && !f.collecting {
		f.add(a, idx)
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
