package pm

import (
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// eventReadBuffer is the receive buffer an EventConn asks for: a burst of
// connections makes several events each, and an overrun loses them all.
const eventReadBuffer = 1 << 20

// ErrEventsLost matches the error Receive returns when the kernel dropped
// events because the socket's buffer overran (ENOBUFS). Netlink multicast
// has no replay: callers resynchronise from the kernel's state and go on
// receiving on the same EventConn.
var ErrEventsLost = errors.New("events lost")

// An EventConn receives one network namespace's MPTCP events. It has a
// connection of its own: requests on a socket that has joined the group get
// events where they expect replies.
type EventConn struct {
	nl     *netlink.Conn
	family uint16
}

// DialEvents joins the "mptcp_pm_events" group of cfg's namespace. Joining
// needs CAP_NET_ADMIN on current kernels (EPERM otherwise).
func DialEvents(cfg *Config) (*EventConn, error) {
	nl, fi, err := dialFamily(cfg)
	if err != nil {
		return nil, err
	}

	group, ok := fi.groups[EventsGroup]
	if !ok {
		nl.Close()
		return nil, fmt.Errorf("joining %s: the kernel has no such group", EventsGroup)
	}

	// Best effort: a smaller buffer only makes overruns likelier.
	_ = nl.SetReadBuffer(eventReadBuffer)

	if err := nl.JoinGroup(group); err != nil {
		nl.Close()
		return nil, fmt.Errorf("joining %s: %w", EventsGroup, err)
	}

	return &EventConn{nl: nl, family: fi.id}, nil
}

// Receive blocks until the kernel sends events and returns them in order.
// An error matching ErrEventsLost (and unix.ENOBUFS) means events were
// dropped; a deadline set with SetDeadline ends it with an error matching
// os.ErrDeadlineExceeded. Messages that fail to decode are skipped.
func (c *EventConn) Receive() ([]Event, error) {
	msgs, err := c.nl.Receive()
	if errors.Is(err, unix.ENOBUFS) {
		return nil, fmt.Errorf("receiving events: %w: %w", ErrEventsLost, err)
	}
	if err != nil {
		return nil, fmt.Errorf("receiving events: %w", err)
	}

	evs := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != netlink.HeaderType(c.family) {
			continue
		}
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(m.Data); err != nil {
			continue
		}
		ev, err := decodeEvent(gm.Header.Command, gm.Data)
		if err != nil {
			continue
		}
		evs = append(evs, ev)
	}

	return evs, nil
}

// SetDeadline sets the time after which a blocked Receive returns.
func (c *EventConn) SetDeadline(t time.Time) error {
	return c.nl.SetDeadline(t)
}

// SetReadBuffer sets the socket's receive buffer in bytes (DialEvents asks
// for 1 MiB); the kernel doubles the value and may cap it at
// net.core.rmem_max.
func (c *EventConn) SetReadBuffer(bytes int) error {
	return c.nl.SetReadBuffer(bytes)
}

// Close leaves the group and closes the connection; a blocked Receive
// returns an error.
func (c *EventConn) Close() error { return c.nl.Close() }
