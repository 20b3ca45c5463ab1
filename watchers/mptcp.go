package watchers

import (
	"maps"
	"net/netip"
)

// mptcpEventKind is an MPTCP_EVENT_* value from include/uapi/linux/mptcp.h
// (the genl command of a message on the "mptcp_pm_events" group).
type mptcpEventKind uint8

// The events the counters read; the others (LISTENER_*, SUB_PRIORITY) say
// nothing about how many subflows an address carries.
const (
	eventCreated        mptcpEventKind = 1
	eventEstablished    mptcpEventKind = 2
	eventClosed         mptcpEventKind = 3
	eventAnnounced      mptcpEventKind = 6
	eventRemoved        mptcpEventKind = 7
	eventSubEstablished mptcpEventKind = 10
	eventSubClosed      mptcpEventKind = 11
)

// mptcpEvent is the part of an MPTCP event that the counters read.
type mptcpEvent struct {
	kind     mptcpEventKind
	token    uint32
	saddr    netip.Addr
	daddr    netip.Addr
	sport    uint16
	dport    uint16
	remoteID uint8
	ifindex  int    // 0 when the event had no IF_IDX
	err      uint32 // MPTCP_ATTR_ERROR, 0 when absent
}

// subflowID tells the subflows of one connection apart: the local id is
// no use for this, subflows from the initial address all carry id 0.
type subflowID struct {
	saddr, daddr netip.Addr
	sport, dport uint16
}

// connection is what the counters keep about one open connection.
type connection struct {
	subflows  map[subflowID]SubflowKey // open subflows, and where counted
	announced map[uint8]bool           // remote ids the peer announced
}

// mptcpCounter turns MPTCP events into MPTCPStats. It is not safe for
// concurrent use.
//
// The initial subflow has no SUB_ESTABLISHED event: ESTABLISHED counts it.
// CLOSED comes without SUB_CLOSED for the subflows still open at close
// (observed on 6.18), so it closes them. SUB_CLOSED of a subflow never
// seen established (a failed join, or one opened before the daemon
// started) counts as closed, and failed with an error, without touching
// Established.
type mptcpCounter struct {
	conns map[uint32]*connection
	stats map[SubflowKey]SubflowCount
	// ifindex finds the link holding a local address, for events without
	// IF_IDX; nil or 0 leaves the key's Ifindex at 0.
	ifindex func(netip.Addr) int
}

func newMPTCPCounter(ifindex func(netip.Addr) int) *mptcpCounter {
	return &mptcpCounter{
		conns:   make(map[uint32]*connection),
		stats:   make(map[SubflowKey]SubflowCount),
		ifindex: ifindex,
	}
}

// apply counts one event.
func (c *mptcpCounter) apply(e mptcpEvent) {
	switch e.kind {
	case eventCreated:
		c.conn(e.token)
	case eventEstablished:
		c.subflowUp(e)
	case eventClosed:
		c.closeConn(e.token)
	case eventAnnounced:
		c.conn(e.token).announced[e.remoteID] = true
	case eventRemoved:
		if conn, ok := c.conns[e.token]; ok {
			delete(conn.announced, e.remoteID)
		}
	case eventSubEstablished:
		c.subflowUp(e)
	case eventSubClosed:
		c.subflowDown(e)
	}
}

func (c *mptcpCounter) conn(token uint32) *connection {
	conn, ok := c.conns[token]
	if !ok {
		conn = &connection{
			subflows:  make(map[subflowID]SubflowKey),
			announced: make(map[uint8]bool),
		}
		c.conns[token] = conn
	}

	return conn
}

func (c *mptcpCounter) key(e mptcpEvent) SubflowKey {
	k := SubflowKey{Addr: e.saddr.Unmap(), Ifindex: e.ifindex}
	if k.Ifindex == 0 && c.ifindex != nil {
		k.Ifindex = c.ifindex(k.Addr)
	}

	return k
}

func (c *mptcpCounter) subflowUp(e mptcpEvent) {
	conn := c.conn(e.token)
	id := subflowID{e.saddr, e.daddr, e.sport, e.dport}
	if _, ok := conn.subflows[id]; ok {
		return
	}

	k := c.key(e)
	conn.subflows[id] = k
	n := c.stats[k]
	n.Established++
	c.stats[k] = n
}

func (c *mptcpCounter) subflowDown(e mptcpEvent) {
	id := subflowID{e.saddr, e.daddr, e.sport, e.dport}
	k, open := SubflowKey{}, false
	if conn, ok := c.conns[e.token]; ok {
		k, open = conn.subflows[id]
		delete(conn.subflows, id)
	}
	if !open {
		k = c.key(e)
	}

	n := c.stats[k]
	if open {
		n.Established--
	}
	n.Closed++
	if e.err != 0 {
		n.Failed++
	}
	c.stats[k] = n
}

func (c *mptcpCounter) closeConn(token uint32) {
	conn, ok := c.conns[token]
	if !ok {
		return
	}

	for _, k := range conn.subflows {
		n := c.stats[k]
		n.Established--
		n.Closed++
		c.stats[k] = n
	}
	delete(c.conns, token)
}

// forget drops what the counters know about open connections, keeping the
// closed and failed totals. It is for after lost events: the kernel offers
// no dump of connections over genetlink, so those that stay open are
// unknown until they produce events again.
func (c *mptcpCounter) forget() {
	clear(c.conns)
	for k, n := range c.stats {
		n.Established = 0
		c.stats[k] = n
	}
}

// snapshot returns a copy of the counters.
func (c *mptcpCounter) snapshot() MPTCPStats {
	s := MPTCPStats{Connections: len(c.conns)}
	for _, conn := range c.conns {
		s.Announced += len(conn.announced)
	}
	if len(c.stats) > 0 {
		s.Subflows = maps.Clone(c.stats)
	}

	return s
}
