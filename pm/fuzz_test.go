package pm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// The fuzz targets feed the decoders arbitrary bytes: they must return an
// error or a value, never panic, and a decoded endpoint must survive an
// encode and decode unchanged.

func FuzzDecodeEndpoint(f *testing.F) {
	for _, s := range []string{dumpEntry, iprouteAdd, port20001, ``} {
		f.Add(unhex(f, s))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEndpoint(b)
		if err != nil || e.Addr.Is4In6() || e.Addr.Zone() != "" {
			return
		}

		wire, err := encodeEndpoint(e)
		if err != nil {
			t.Fatalf("encoding decoded %+v: %v", e, err)
		}
		again, err := decodeEndpoint(wire)
		if err != nil {
			t.Fatalf("decoding re-encoded %+v: %v", e, err)
		}
		if again != e {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	for cmd, s := range map[uint8]string{
		10: subEstablished, 6: announced, 15: listenerCreated,
		1: createdServer, 11: subClosedReset, 3: `08000100 01000000`,
	} {
		f.Add(cmd, unhex(f, s))
	}

	f.Fuzz(func(t *testing.T, cmd uint8, b []byte) {
		ev, err := decodeEvent(cmd, b)
		if err != nil {
			return
		}
		if ev.Type != EventType(cmd) {
			t.Fatalf("event type %d, want %d", ev.Type, cmd)
		}
		if ev.Saddr.IsValid() != (ev.Present.Has(AttrSaddr4) || ev.Present.Has(AttrSaddr6)) {
			t.Fatalf("source address %v disagrees with present %b", ev.Saddr, ev.Present)
		}
	})
}

func FuzzDecodeLimits(f *testing.F) {
	f.Add(unhex(f, `08000200 00000000 08000300 02000000`))
	f.Add(unhex(f, `08000300 02000000`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeLimits(b)
		if err != nil {
			return
		}

		wire, err := encodeLimits(&l.Subflows, &l.AddAddrAccepted)
		if err != nil {
			t.Fatalf("encoding %+v: %v", l, err)
		}
		again, err := decodeLimits(wire)
		if err != nil || again != l {
			t.Fatalf("round trip of %+v gave %+v, %v", l, again, err)
		}
	})
}

func FuzzDecodeFamily(f *testing.F) {
	all := []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	f.Add(familyReply(f, 0, all))
	f.Add(familyReply(f, 6, all))
	f.Add(familyReply(f, 3, all[:6]))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		fi, err := decodeFamily(b)
		if err != nil {
			return
		}
		fi.opFeatures()

		wire, err := encodeFamily(fi)
		if err != nil {
			t.Fatalf("encoding %+v: %v", fi, err)
		}
		again, err := decodeFamily(wire)
		if err != nil {
			t.Fatalf("decoding re-encoded %+v: %v", fi, err)
		}
		diff := cmp.Diff(fi, again, cmp.AllowUnexported(familyInfo{}))
		if diff != "" {
			t.Fatalf("round trip changed the family (-first +again):\n%s", diff)
		}
	})
}

// encodeFamily encodes fi as nlctrl would send it.
func encodeFamily(fi familyInfo) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(ctrlAttrFamilyID, fi.id)
	ae.Uint32(ctrlAttrVersion, fi.version)
	ae.Uint32(ctrlAttrMaxAttr, fi.maxAttr)
	ae.Nested(ctrlAttrOps, func(nae *netlink.AttributeEncoder) error {
		i := uint16(1)
		for id, flags := range fi.ops {
			nae.Nested(i, func(oae *netlink.AttributeEncoder) error {
				oae.Uint32(ctrlAttrOpID, id)
				oae.Uint32(ctrlAttrOpFlags, flags)

				return nil
			})
			i++
		}

		return nil
	})
	ae.Nested(ctrlAttrMcastGroups, func(nae *netlink.AttributeEncoder) error {
		i := uint16(1)
		for name, id := range fi.groups {
			nae.Nested(i, func(gae *netlink.AttributeEncoder) error {
				gae.String(ctrlAttrMcastGrpName, name)
				gae.Uint32(ctrlAttrMcastGrpID, id)

				return nil
			})
			i++
		}

		return nil
	})

	return ae.Encode()
}
