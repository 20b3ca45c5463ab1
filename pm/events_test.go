package pm

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Event fixtures, built from events `ip mptcp monitor` printed in
// KERNEL-MPTCP-PM.md §12 and the attribute layout of §3.4 and §7.
const (
	// [SF_ESTABLISHED] token=0c5188f8 remid=1 locid=1 saddr4=10.200.2.1
	// daddr4=10.200.2.2 sport=57733 dport=18080 backup=0
	subEstablished = `08000100 f888510c
		06000200 02000000
		08000500 0ac80201
		08000700 0ac80202
		06000900 e1850000
		06000a00 46a00000
		05000300 01000000
		05000400 01000000
		05000b00 00000000`

	// [ANNOUNCED] token=0c5188f8 remid=1 daddr4=10.200.2.2 dport=18080
	announced = `08000100 f888510c
		05000400 01000000
		06000a00 46a00000
		08000700 0ac80202`

	// LISTENER_CREATED for a port endpoint on 10.9.1.1 port 20001.
	listenerCreated = `06000200 02000000
		06000900 4e210000
		08000500 0a090101`

	// CREATED on the server side of 6.18: SERVER_SIDE=1 and FLAGS=2.
	createdServer = `08000100 c82f5dea
		05001200 01000000
		06000d00 02000000
		06000200 0a000000
		14000600 20010db8 00000000 00000000 00000002
		14000800 20010db8 00000000 00000000 00000001
		06000900 1f900000
		06000a00 9f820000
		05000300 00000000
		05000400 00000000`

	// SUB_CLOSED after a reset, bound to a device, with an error.
	subClosedReset = `08000100 01000000
		08000f00 0c000000
		05000c00 68000000
		08001000 03000000
		08001100 01000000
		08000e00 05000000
		08006300 ffffffff`
)

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name string
		cmd  uint8
		wire string
		want Event
	}{
		{
			name: "sub_established",
			cmd:  10,
			wire: subEstablished,
			want: Event{
				Type: EventSubEstablished, Token: 0x0c5188f8, Family: 2,
				LocalID: 1, RemoteID: 1,
				Saddr: netip.MustParseAddr("10.200.2.1"),
				Daddr: netip.MustParseAddr("10.200.2.2"),
				Sport: 57733, Dport: 18080,
				Present: set(AttrToken, AttrFamily, AttrSaddr4, AttrDaddr4,
					AttrSport, AttrDport, AttrLocID, AttrRemID, AttrBackup),
			},
		},
		{
			name: "announced has no family",
			cmd:  6,
			wire: announced,
			want: Event{
				Type: EventAnnounced, Token: 0x0c5188f8, RemoteID: 1,
				Daddr: netip.MustParseAddr("10.200.2.2"), Dport: 18080,
				Present: set(AttrToken, AttrRemID, AttrDport, AttrDaddr4),
			},
		},
		{
			name: "listener has no token",
			cmd:  15,
			wire: listenerCreated,
			want: Event{
				Type: EventListenerCreated, Family: 2,
				Saddr: netip.MustParseAddr("10.9.1.1"), Sport: 20001,
				Present: set(AttrFamily, AttrSport, AttrSaddr4),
			},
		},
		{
			name: "created server side ipv6",
			cmd:  1,
			wire: createdServer,
			want: Event{
				Type: EventCreated, Token: 0xea5d2fc8, Family: 10,
				Saddr: netip.MustParseAddr("2001:db8::2"),
				Daddr: netip.MustParseAddr("2001:db8::1"),
				Sport: 8080, Dport: 40834, Flags: EventFlagServerSide,
				ServerSide: true,
				Present: set(AttrToken, AttrServerSide, AttrFlags,
					AttrFamily, AttrSaddr6, AttrDaddr6, AttrSport, AttrDport,
					AttrLocID, AttrRemID),
			},
		},
		{
			name: "sub_closed reset, unknown attribute skipped",
			cmd:  11,
			wire: subClosedReset,
			want: Event{
				Type: EventSubClosed, Token: 1, Ifindex: 12, Error: 104,
				ResetReason: 3, ResetFlags: 1, Timeout: 5,
				Present: set(AttrToken, AttrIfindex, AttrError,
					AttrResetReason, AttrResetFlags, AttrTimeout),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvent(tt.cmd, unhex(t, tt.wire))
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("unexpected event (-want +got):\n%s", diff)
			}
		})
	}
}

func set(attrs ...EventAttr) AttrSet {
	var s AttrSet
	for _, a := range attrs {
		s = s.With(a)
	}

	return s
}

func TestDecodeEventErrors(t *testing.T) {
	for name, wire := range map[string]string{
		"short saddr4":  `07000500 0ac802 00`,
		"saddr6 4 long": `08000600 0ac80201`,
		"port of 4":     `08000900 00001f90`,
		"token of 2":    `06000100 01000000`,
		"truncated":     `08000100 f888`,
	} {
		t.Run(name, func(t *testing.T) {
			if ev, err := decodeEvent(1, unhex(t, wire)); err == nil {
				t.Errorf("decoding succeeded with %+v, want an error", ev)
			}
		})
	}
}

func TestEventTypeNames(t *testing.T) {
	want := map[EventType]string{
		1: "created", 2: "established", 3: "closed", 6: "announced",
		7: "removed", 10: "sub_established", 11: "sub_closed",
		13: "sub_priority", 15: "listener_created", 16: "listener_closed",
		4: "unknown_4", 99: "unknown_99",
	}
	for typ, name := range want {
		if got := typ.String(); got != name {
			t.Errorf("EventType(%d).String() = %q, want %q", typ, got, name)
		}
		if typ == 4 || typ == 99 {
			if _, err := ParseEventType(name); err == nil {
				t.Errorf("ParseEventType(%q) succeeded, want an error", name)
			}

			continue
		}
		if got, err := ParseEventType(name); err != nil || got != typ {
			t.Errorf("ParseEventType(%q) = %d, %v, want %d", name, got, err, typ)
		}
	}
}

func TestAttrSet(t *testing.T) {
	s := set(AttrToken, AttrServerSide)
	for a := EventAttr(0); a < 40; a++ {
		want := a == AttrToken || a == AttrServerSide
		if got := s.Has(a); got != want {
			t.Errorf("Has(%d) = %v, want %v", a, got, want)
		}
	}
	if s.With(40) != s {
		t.Errorf("With(40) changed the set")
	}
}
