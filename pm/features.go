package pm

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// Features says what the running kernel's path manager supports, as found
// out from its answers (the nlctrl description of the family and, for
// flags, an endpoint read back), never from the kernel version.
// The zero value claims nothing beyond the commands every kernel with the
// family has (ADD_ADDR to GET_LIMITS, 5.7+).
type Features struct {
	// SetFlags: SET_FLAGS exists (5.12+).
	SetFlags bool
	// UserspacePM: ANNOUNCE, REMOVE, SUBFLOW_CREATE and SUBFLOW_DESTROY
	// exist (5.19+).
	UserspacePM bool
	// PerOpPolicy: the family describes its policies per operation (the
	// YNL conversion, 6.7+), so LISTENER_* events exist (6.2+).
	PerOpPolicy bool
	// ListenerEvents: LISTENER_CREATED and LISTENER_CLOSED are sent.
	ListenerEvents bool
	// MasksUnknownFlags: the kernel drops endpoint flag bits it does not
	// know instead of storing them ("mptcp: pm: ignore unknown endpoint
	// flags", 6.19 and stable), so a flag read back is a flag supported.
	MasksUnknownFlags bool
	// Laminar: endpoints keep FlagLaminar (6.18+).
	Laminar bool
	// Probed: the flag fields above come from an endpoint added and read
	// back; when false, MasksUnknownFlags and Laminar are unknown.
	Probed bool
}

// A familyInfo is what nlctrl says about a generic netlink family.
type familyInfo struct {
	id      uint16
	version uint32
	maxAttr uint32
	ops     map[uint32]uint32 // command -> CTRL_CMD_CAP_* flags
	groups  map[string]uint32 // multicast group name -> id
}

// nlctrl attributes (include/uapi/linux/genetlink.h), repeated here so that
// the decoder builds on any OS.
const (
	ctrlAttrFamilyID    = 1
	ctrlAttrFamilyName  = 2
	ctrlAttrVersion     = 3
	ctrlAttrMaxAttr     = 5
	ctrlAttrOps         = 6
	ctrlAttrMcastGroups = 7

	ctrlAttrOpID    = 1
	ctrlAttrOpFlags = 2

	ctrlAttrMcastGrpName = 1
	ctrlAttrMcastGrpID   = 2
)

// decodeFamily decodes a CTRL_CMD_GETFAMILY reply.
func decodeFamily(b []byte) (familyInfo, error) {
	fi := familyInfo{
		ops:    map[uint32]uint32{},
		groups: map[string]uint32{},
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return familyInfo{}, fmt.Errorf("decoding family: %w", err)
	}

	for ad.Next() {
		switch ad.Type() {
		case ctrlAttrFamilyID:
			fi.id = ad.Uint16()
		case ctrlAttrVersion:
			fi.version = ad.Uint32()
		case ctrlAttrMaxAttr:
			fi.maxAttr = ad.Uint32()
		case ctrlAttrOps:
			ad.Nested(fi.decodeOps)
		case ctrlAttrMcastGroups:
			ad.Nested(fi.decodeGroups)
		}
	}
	if err := ad.Err(); err != nil {
		return familyInfo{}, fmt.Errorf("decoding family: %w", err)
	}

	return fi, nil
}

func (fi *familyInfo) decodeOps(ad *netlink.AttributeDecoder) error {
	for ad.Next() {
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			var id, flags uint32
			for nad.Next() {
				switch nad.Type() {
				case ctrlAttrOpID:
					id = nad.Uint32()
				case ctrlAttrOpFlags:
					flags = nad.Uint32()
				}
			}
			fi.ops[id] = flags

			return nad.Err()
		})
	}

	return ad.Err()
}

func (fi *familyInfo) decodeGroups(ad *netlink.AttributeDecoder) error {
	for ad.Next() {
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			var (
				name string
				id   uint32
			)
			for nad.Next() {
				switch nad.Type() {
				case ctrlAttrMcastGrpName:
					name = nad.String()
				case ctrlAttrMcastGrpID:
					id = nad.Uint32()
				}
			}
			fi.groups[name] = id

			return nad.Err()
		})
	}

	return ad.Err()
}

// opFeatures derives the command-level features from the op list.
func (fi familyInfo) opFeatures() Features {
	has := func(cmds ...uint32) bool {
		for _, c := range cmds {
			if _, ok := fi.ops[c]; !ok {
				return false
			}
		}

		return true
	}
	perOp := fi.maxAttr == 0 && len(fi.ops) > 0

	return Features{
		SetFlags: has(cmdSetFlags),
		UserspacePM: has(cmdAnnounce, cmdRemove, cmdSubflowCreate,
			cmdSubflowDestroy),
		PerOpPolicy:    perOp,
		ListenerEvents: perOp,
	}
}

// flagProbe is the flag set the feature probe adds: LAMINAR and a bit no
// kernel defines yet. A kernel that keeps the unknown bit stores anything,
// so its LAMINAR says nothing.
const (
	flagUnknownProbe = Flags(1 << 6)
	flagProbe        = FlagLaminar | flagUnknownProbe
)

// probedFeatures completes f from the flags an endpoint added with
// flagProbe was read back with.
func probedFeatures(f Features, stored Flags) Features {
	f.Probed = true
	f.MasksUnknownFlags = !stored.Has(flagUnknownProbe)
	f.Laminar = f.MasksUnknownFlags && stored.Has(FlagLaminar)

	return f
}

// probeAddr is the address the flag probe adds: in the IPv6 discard-only
// prefix (RFC 6666), so it is local nowhere and routed nowhere. With no
// signal or subflow flag, the probe endpoint announces nothing and opens
// nothing while it exists.
var probeAddr = netip.MustParseAddr("100::6d70:7470:6d")

// probeKernel is what the flag probe needs; *Client implements it.
type probeKernel interface {
	addUnchecked(e Endpoint) error
	readBack(e Endpoint) (Endpoint, error)
	Endpoints() ([]Endpoint, error)
	DeleteEndpoint(id uint8, addr netip.Addr) error
}

// probeFlags completes f by adding an endpoint for probeAddr with
// flagProbe, reading it back and deleting it. When the add fails f is
// returned as it is; when the read back fails, the probe endpoint is
// still deleted (see removeProbe) and f is returned as it is.
func probeFlags(k probeKernel, f Features) Features {
	e := Endpoint{Addr: probeAddr, Flags: flagProbe}
	if err := k.addUnchecked(e); err != nil {
		return f
	}

	stored, err := k.readBack(e)
	if err != nil {
		removeProbe(k)
		return f
	}

	// Best effort: a probe left behind is an ordinary flag-less endpoint
	// on an address nothing uses.
	_ = k.DeleteEndpoint(stored.ID, netip.Addr{})

	return probedFeatures(f, stored.Flags)
}

// removeProbe deletes the probe endpoint found by key in a fresh dump. It
// is for a probe the kernel accepted but that could not be read back (a
// failed or interrupted dump): its id is unknown, and left behind it would
// take one of the eight slots for good.
func removeProbe(k probeKernel) {
	eps, err := k.Endpoints()
	if err != nil {
		return
	}

	for _, e := range eps {
		if e.Key() == (Key{Addr: probeAddr}) {
			_ = k.DeleteEndpoint(e.ID, netip.Addr{})
		}
	}
}
