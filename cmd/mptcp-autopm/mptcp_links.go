package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ifinfomsgLen is sizeof(struct ifinfomsg), the header of RTM_NEWLINK.
const ifinfomsgLen = 16

// links maps interface names and indexes of one network namespace, read
// once with an RTM_GETLINK dump when first needed, as iproute2's ll_map
// does. A namespace path of "" is the caller's own namespace; nothing is
// ever changed in it.
type links struct {
	netns string

	once   sync.Once
	byName map[string]int32
	byIdx  map[int32]string
	err    error
}

// load dumps the namespace's links.
func (l *links) load() {
	l.once.Do(func() {
		l.byName, l.byIdx, l.err = dumpLinks(l.netns)
	})
}

// index returns the index of the interface named name, or 0.
func (l *links) index(name string) int32 {
	l.load()

	return l.byName[name]
}

// name returns the name of the interface with index i, or "".
func (l *links) name(i int32) string {
	l.load()

	return l.byIdx[i]
}

// dumpLinks lists the links of the namespace at path netns over a route
// netlink socket opened in that namespace.
func dumpLinks(netns string) (map[string]int32, map[int32]string, error) {
	cfg := &netlink.Config{}
	if netns != "" {
		f, err := os.Open(netns)
		if err != nil {
			return nil, nil, fmt.Errorf("opening netns: %w", err)
		}
		defer f.Close()

		cfg.NetNS = int(f.Fd())
	}

	c, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("dialing route netlink: %w", err)
	}
	defer c.Close()

	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_GETLINK,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: make([]byte, ifinfomsgLen),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing links: %w", err)
	}

	return decodeLinks(msgs)
}

// decodeLinks reads the index and IFLA_IFNAME of each RTM_NEWLINK.
func decodeLinks(msgs []netlink.Message) (map[string]int32,
	map[int32]string, error) {
	byName := map[string]int32{}
	byIdx := map[int32]string{}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < ifinfomsgLen {
			continue
		}
		index := int32(binary.NativeEndian.Uint32(m.Data[4:8]))

		ad, err := netlink.NewAttributeDecoder(m.Data[ifinfomsgLen:])
		if err != nil {
			return nil, nil, fmt.Errorf("decoding link %d: %w", index, err)
		}
		for ad.Next() {
			if ad.Type() == unix.IFLA_IFNAME {
				name := ad.String()
				byName[name], byIdx[index] = index, name
			}
		}
		if err := ad.Err(); err != nil {
			return nil, nil, fmt.Errorf("decoding link %d: %w", index, err)
		}
	}

	return byName, byIdx, nil
}
