package pm

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// familyReply builds a CTRL_CMD_NEWFAMILY payload the way nlctrl sends it.
func familyReply(t testing.TB, maxAttr uint32, ops []uint32) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.String(ctrlAttrFamilyName, "mptcp_pm")
	ae.Uint16(ctrlAttrFamilyID, 0x1c)
	ae.Uint32(ctrlAttrVersion, 1)
	ae.Uint32(4, 0) // HDRSIZE
	ae.Uint32(ctrlAttrMaxAttr, maxAttr)
	ae.Nested(ctrlAttrOps, func(nae *netlink.AttributeEncoder) error {
		for i, op := range ops {
			nae.Nested(uint16(i+1), func(oae *netlink.AttributeEncoder) error {
				oae.Uint32(ctrlAttrOpID, op)
				oae.Uint32(ctrlAttrOpFlags, 0x1a)

				return nil
			})
		}

		return nil
	})
	ae.Nested(ctrlAttrMcastGroups, func(nae *netlink.AttributeEncoder) error {
		for i, g := range []string{"mptcp_pm_cmds", "mptcp_pm_events"} {
			nae.Nested(uint16(i+1), func(gae *netlink.AttributeEncoder) error {
				gae.String(ctrlAttrMcastGrpName, g)
				gae.Uint32(ctrlAttrMcastGrpID, uint32(8+i))

				return nil
			})
		}

		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}

	return b
}

func TestDecodeFamily(t *testing.T) {
	fi, err := decodeFamily(familyReply(t, 0, []uint32{1, 2, 3}))
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	want := familyInfo{
		id: 0x1c, version: 1,
		ops:    map[uint32]uint32{1: 0x1a, 2: 0x1a, 3: 0x1a},
		groups: map[string]uint32{"mptcp_pm_cmds": 8, "mptcp_pm_events": 9},
	}
	if diff := cmp.Diff(want, fi, cmp.AllowUnexported(familyInfo{})); diff != "" {
		t.Errorf("unexpected family (-want +got):\n%s", diff)
	}
}

func TestOpFeatures(t *testing.T) {
	all := []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	tests := []struct {
		name    string
		maxAttr uint32
		ops     []uint32
		want    Features
	}{
		{"6.18", 0, all, Features{SetFlags: true, UserspacePM: true,
			PerOpPolicy: true, ListenerEvents: true}},
		{"6.1", 6, all, Features{SetFlags: true, UserspacePM: true}},
		{"5.15", 3, all[:7], Features{SetFlags: true}},
		{"5.10", 3, all[:6], Features{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := decodeFamily(familyReply(t, tt.maxAttr, tt.ops))
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if diff := cmp.Diff(tt.want, fi.opFeatures()); diff != "" {
				t.Errorf("unexpected features (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbedFeatures(t *testing.T) {
	tests := []struct {
		name   string
		stored Flags
		want   Features
	}{
		{"masks, laminar", FlagLaminar, Features{Probed: true,
			MasksUnknownFlags: true, Laminar: true}},
		{"masks, no laminar", 0, Features{Probed: true, MasksUnknownFlags: true}},
		{"stores anything", flagProbe, Features{Probed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probedFeatures(Features{}, tt.stored)); diff != "" {
				t.Errorf("unexpected features (-want +got):\n%s", diff)
			}
		})
	}
}

// probeFake is a kernel for the flag probe: it stores what is added with
// the flags it keeps, and fails the steps it is told to.
type probeFake struct {
	table    []Endpoint
	keeps    Flags
	failAdd  bool
	failRead bool
	failDump bool
	deleted  []uint8
}

func (p *probeFake) addUnchecked(e Endpoint) error {
	if p.failAdd {
		return errors.New("refused")
	}
	e.ID, e.Flags = 7, e.Flags&p.keeps
	p.table = append(p.table, e)

	return nil
}

func (p *probeFake) readBack(e Endpoint) (Endpoint, error) {
	if p.failRead {
		return Endpoint{}, errors.New("dump interrupted")
	}
	for _, got := range p.table {
		if got.Key() == e.Key() {
			return got, nil
		}
	}

	return Endpoint{}, errors.New("not in the table")
}

func (p *probeFake) Endpoints() ([]Endpoint, error) {
	if p.failDump {
		return nil, errors.New("dump failed")
	}

	return slices.Clone(p.table), nil
}

func (p *probeFake) DeleteEndpoint(id uint8, _ netip.Addr) error {
	p.deleted = append(p.deleted, id)
	p.table = slices.DeleteFunc(p.table, func(e Endpoint) bool {
		return e.ID == id
	})

	return nil
}

func TestProbeFlags(t *testing.T) {
	other := Endpoint{ID: 1, Addr: netip.MustParseAddr("10.0.0.1"),
		Flags: FlagSubflow}
	tests := []struct {
		name        string
		fake        probeFake
		want        Features
		wantDeleted []uint8
	}{{
		name:        "laminar kept",
		fake:        probeFake{keeps: 0x3f},
		want:        Features{Probed: true, MasksUnknownFlags: true, Laminar: true},
		wantDeleted: []uint8{7},
	}, {
		name:        "everything kept",
		fake:        probeFake{keeps: ^Flags(0)},
		want:        Features{Probed: true},
		wantDeleted: []uint8{7},
	}, {
		name: "add refused",
		fake: probeFake{failAdd: true},
	}, {
		name:        "read back failed: deleted by key from a dump",
		fake:        probeFake{keeps: 0x3f, failRead: true},
		wantDeleted: []uint8{7},
	}, {
		name: "read back and dump failed",
		fake: probeFake{keeps: 0x3f, failRead: true, failDump: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.fake
			k.table = []Endpoint{other}

			got := probeFlags(&k, Features{})

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected features (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDeleted, k.deleted); diff != "" {
				t.Errorf("unexpected deletes (-want +got):\n%s", diff)
			}
			if !tt.fake.failDump && (len(k.table) != 1 || k.table[0] != other) {
				t.Errorf("probe left the table as %v", k.table)
			}
		})
	}
}
