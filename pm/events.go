package pm

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// An EventType is the kind of an MPTCP event (MPTCP_EVENT_*), sent as the
// generic netlink command of the event message.
type EventType uint8

// The event types the kernel sends on "mptcp_pm_events". Values 4, 5, 8, 9,
// 12 and 14 are unused by the kernel.
const (
	EventCreated         EventType = 1  // connection created (SYN sent or received)
	EventEstablished     EventType = 2  // connection fully established
	EventClosed          EventType = 3  // connection closed
	EventAnnounced       EventType = 6  // the peer announced an address (ADD_ADDR)
	EventRemoved         EventType = 7  // the peer removed an address (RM_ADDR)
	EventSubEstablished  EventType = 10 // a subflow was established
	EventSubClosed       EventType = 11 // a subflow was closed
	EventSubPriority     EventType = 13 // the peer changed a subflow's backup bit (MP_PRIO)
	EventListenerCreated EventType = 15 // an MPTCP listener was created (6.2+)
	EventListenerClosed  EventType = 16 // an MPTCP listener was closed (6.2+)
)

var eventNames = map[EventType]string{
	EventCreated:         "created",
	EventEstablished:     "established",
	EventClosed:          "closed",
	EventAnnounced:       "announced",
	EventRemoved:         "removed",
	EventSubEstablished:  "sub_established",
	EventSubClosed:       "sub_closed",
	EventSubPriority:     "sub_priority",
	EventListenerCreated: "listener_created",
	EventListenerClosed:  "listener_closed",
}

// String returns the event's lowercase name, e.g. "sub_established", or
// "unknown_N" for a type this package does not know.
func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}

	return fmt.Sprintf("unknown_%d", uint8(t))
}

// ParseEventType returns the event type named name, as String prints it.
func ParseEventType(name string) (EventType, error) {
	for t, n := range eventNames {
		if n == name {
			return t, nil
		}
	}

	return 0, fmt.Errorf("unknown event type %q", name)
}

// An EventAttr is an attribute of an event message (MPTCP_ATTR_*).
type EventAttr uint8

// The event attributes, numbered as the kernel does.
const (
	AttrToken       EventAttr = 1  // u32, host order
	AttrFamily      EventAttr = 2  // u16
	AttrLocID       EventAttr = 3  // u8
	AttrRemID       EventAttr = 4  // u8
	AttrSaddr4      EventAttr = 5  // 4 bytes, network order
	AttrSaddr6      EventAttr = 6  // 16 bytes, network order
	AttrDaddr4      EventAttr = 7  // 4 bytes, network order
	AttrDaddr6      EventAttr = 8  // 16 bytes, network order
	AttrSport       EventAttr = 9  // u16, big-endian
	AttrDport       EventAttr = 10 // u16, big-endian
	AttrBackup      EventAttr = 11 // u8
	AttrError       EventAttr = 12 // u8, a copy of sk_err
	AttrFlags       EventAttr = 13 // u16
	AttrTimeout     EventAttr = 14 // u32
	AttrIfindex     EventAttr = 15 // s32
	AttrResetReason EventAttr = 16 // u32
	AttrResetFlags  EventAttr = 17 // u32
	AttrServerSide  EventAttr = 18 // u8
)

// An AttrSet records which event attributes a message carried, one bit per
// EventAttr. The zero value is the empty set.
type AttrSet uint32

// Has reports whether a is in the set.
func (s AttrSet) Has(a EventAttr) bool { return a < 32 && s&(1<<a) != 0 }

// With returns the set with a added.
func (s AttrSet) With(a EventAttr) AttrSet {
	if a >= 32 {
		return s
	}

	return s | 1<<a
}

// Event flags (MPTCP_PM_EV_FLAG_*) in Event.Flags.
const (
	// EventFlagDenyJoinID0: the peer refuses joins to its initial address
	// (6.17, backported to stable kernels).
	EventFlagDenyJoinID0 uint16 = 1 << 0
	// EventFlagServerSide: this end accepted the connection (6.18).
	EventFlagServerSide uint16 = 1 << 1
)

// An Event is one MPTCP event. Fields hold zero values for attributes the
// kernel did not send; Present says which it sent, so that a monitor prints
// only those (ANNOUNCED has no FAMILY, listener events have no TOKEN).
//
// Saddr, Sport and LocalID describe this host's end, Daddr, Dport and
// RemoteID the peer's; for ANNOUNCED, Daddr and Dport are the announced
// address and port. ServerSide is true when the kernel sent SERVER_SIDE=1 or
// the FLAGS bit EventFlagServerSide (6.18 sends the latter).
type Event struct {
	Type        EventType
	Token       uint32
	Family      uint16
	LocalID     uint8
	RemoteID    uint8
	Saddr       netip.Addr
	Daddr       netip.Addr
	Sport       uint16
	Dport       uint16
	Backup      bool
	Error       uint8
	Flags       uint16
	Timeout     uint32
	Ifindex     int32
	ResetReason uint32
	ResetFlags  uint32
	ServerSide  bool
	Present     AttrSet
}

// decodeEvent decodes the attributes of an event message whose generic
// netlink command is cmd. Unknown attributes are skipped; an attribute of
// the wrong size is an error.
func decodeEvent(cmd uint8, b []byte) (Event, error) {
	ev := Event{Type: EventType(cmd)}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Event{}, fmt.Errorf("decoding %s event: %w", ev.Type, err)
	}

	for ad.Next() {
		a := EventAttr(ad.Type())
		if decodeEventAttr(ad, a, &ev) {
			ev.Present = ev.Present.With(a)
		}
	}
	if err := ad.Err(); err != nil {
		return Event{}, fmt.Errorf("decoding %s event: %w", ev.Type, err)
	}

	if ev.Present.Has(AttrFlags) && ev.Flags&EventFlagServerSide != 0 {
		ev.ServerSide = true
	}

	return ev, nil
}

// decodeEventAttr stores attribute a in ev and reports whether a is known.
func decodeEventAttr(ad *netlink.AttributeDecoder, a EventAttr, ev *Event) bool {
	switch a {
	case AttrToken:
		ev.Token = ad.Uint32()
	case AttrFamily:
		ev.Family = ad.Uint16()
	case AttrLocID:
		ev.LocalID = ad.Uint8()
	case AttrRemID:
		ev.RemoteID = ad.Uint8()
	case AttrSaddr4, AttrSaddr6, AttrDaddr4, AttrDaddr6:
		decodeEventAddr(ad, a, ev)
	case AttrSport:
		ev.Sport = bigEndian16(ad)
	case AttrDport:
		ev.Dport = bigEndian16(ad)
	case AttrBackup:
		ev.Backup = ad.Uint8() != 0
	case AttrError:
		ev.Error = ad.Uint8()
	case AttrFlags:
		ev.Flags = ad.Uint16()
	case AttrTimeout:
		ev.Timeout = ad.Uint32()
	case AttrIfindex:
		ev.Ifindex = ad.Int32()
	case AttrResetReason:
		ev.ResetReason = ad.Uint32()
	case AttrResetFlags:
		ev.ResetFlags = ad.Uint32()
	case AttrServerSide:
		ev.ServerSide = ad.Uint8() != 0
	default:
		return false
	}

	return true
}

func decodeEventAddr(ad *netlink.AttributeDecoder, a EventAttr, ev *Event) {
	n := 4
	if a == AttrSaddr6 || a == AttrDaddr6 {
		n = 16
	}

	ad.Do(func(b []byte) error {
		if len(b) != n {
			return fmt.Errorf("address attribute %d of %d bytes, want %d", a, len(b), n)
		}

		ip, _ := netip.AddrFromSlice(b)
		if a == AttrSaddr4 || a == AttrSaddr6 {
			ev.Saddr = ip
		} else {
			ev.Daddr = ip
		}

		return nil
	})
}
