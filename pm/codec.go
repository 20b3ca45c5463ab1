package pm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// Generic netlink commands of the "mptcp_pm" family
// (include/uapi/linux/mptcp_pm.h, MPTCP_PM_CMD_*). They are hard-coded
// because distribution headers lag the kernel.
const (
	cmdAddAddr        = 1
	cmdDelAddr        = 2
	cmdGetAddr        = 3
	cmdFlushAddrs     = 4
	cmdSetLimits      = 5
	cmdGetLimits      = 6
	cmdSetFlags       = 7
	cmdAnnounce       = 8
	cmdRemove         = 9
	cmdSubflowCreate  = 10
	cmdSubflowDestroy = 11
)

// familyVersion is MPTCP_PM_VER, unchanged since the family appeared.
const familyVersion = 1

// Top-level attributes (MPTCP_PM_ATTR_*).
const (
	attrAddr        = 1 // nest of address attributes
	attrRcvAddAddrs = 2 // u32, limit add_addr_accepted
	attrSubflows    = 3 // u32, limit subflows
)

// Address nest attributes (MPTCP_PM_ADDR_ATTR_*).
const (
	addrAttrFamily = 1 // u16, host order
	addrAttrID     = 2 // u8
	addrAttrAddr4  = 3 // 4 bytes, network order
	addrAttrAddr6  = 4 // 16 bytes, network order
	addrAttrPort   = 5 // u16, host order (the kernel calls htons on it)
	addrAttrFlags  = 6 // u32
	addrAttrIfIdx  = 7 // s32
)

// Address families as the kernel numbers them on the wire.
const (
	afInet  = 2
	afInet6 = 10
)

// errNoAddr means a message carried no ADDR nest.
var errNoAddr = errors.New("no address attribute")

// encodeEndpoint returns the attributes of an ADDR nest describing e, in the
// order iproute2 sends them (ID, FLAGS, IF_IDX, FAMILY, address, PORT). ID,
// IF_IDX and PORT are left out when zero; an invalid address leaves out
// FAMILY and the address, for requests by id only.
func encodeEndpoint(e Endpoint) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
		encodeAddrNest(nae, e)

		return nil
	})

	return ae.Encode()
}

func encodeAddrNest(ae *netlink.AttributeEncoder, e Endpoint) {
	if e.ID != 0 {
		ae.Uint8(addrAttrID, e.ID)
	}
	ae.Uint32(addrAttrFlags, uint32(e.Flags))
	if e.Ifindex != 0 {
		ae.Int32(addrAttrIfIdx, e.Ifindex)
	}
	encodeAddr(ae, e.Addr)
	if e.Port != 0 {
		ae.Uint16(addrAttrPort, e.Port)
	}
}

// encodeAddr writes FAMILY and ADDR4 or ADDR6 for a, or nothing when a is
// not valid. An IPv4-mapped IPv6 address is sent as IPv4, as the kernel
// stores it.
func encodeAddr(ae *netlink.AttributeEncoder, a netip.Addr) {
	if !a.IsValid() {
		return
	}

	a = a.Unmap()
	if a.Is4() {
		ae.Uint16(addrAttrFamily, afInet)
		b := a.As4()
		ae.Bytes(addrAttrAddr4, b[:])

		return
	}

	ae.Uint16(addrAttrFamily, afInet6)
	b := a.As16()
	ae.Bytes(addrAttrAddr6, b[:])
}

// encodeIDOnly returns an ADDR nest that names an endpoint by id alone.
func encodeIDOnly(id uint8) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
		nae.Uint8(addrAttrID, id)

		return nil
	})

	return ae.Encode()
}

// encodeIDAddr returns an ADDR nest with an id and, when valid, an address:
// the form DEL_ADDR needs for id 0.
func encodeIDAddr(id uint8, addr netip.Addr) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
		nae.Uint8(addrAttrID, id)
		encodeAddr(nae, addr)

		return nil
	})

	return ae.Encode()
}

// decodeEndpoint decodes the top-level attributes of a GET_ADDR reply.
func decodeEndpoint(b []byte) (Endpoint, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Endpoint{}, fmt.Errorf("decoding endpoint: %w", err)
	}

	var (
		e     Endpoint
		found bool
	)
	for ad.Next() {
		if ad.Type() != attrAddr {
			continue
		}
		found = true
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			e, err = decodeAddrNest(nad)

			return err
		})
	}
	if err := ad.Err(); err != nil {
		return Endpoint{}, fmt.Errorf("decoding endpoint: %w", err)
	}

	if !found {
		return Endpoint{}, fmt.Errorf("decoding endpoint: %w", errNoAddr)
	}

	return e, nil
}

// decodeAddrNest decodes the attributes inside an ADDR nest. Unknown
// attributes are skipped; the kernel adds new ones now and then.
func decodeAddrNest(ad *netlink.AttributeDecoder) (Endpoint, error) {
	var (
		e      Endpoint
		family uint16
	)
	for ad.Next() {
		switch ad.Type() {
		case addrAttrFamily:
			family = ad.Uint16()
		case addrAttrID:
			e.ID = ad.Uint8()
		case addrAttrAddr4:
			e.Addr = decodeIP(ad, 4)
		case addrAttrAddr6:
			e.Addr = decodeIP(ad, 16)
		case addrAttrPort:
			e.Port = ad.Uint16()
		case addrAttrFlags:
			e.Flags = Flags(ad.Uint32())
		case addrAttrIfIdx:
			e.Ifindex = ad.Int32()
		}
	}
	if err := ad.Err(); err != nil {
		return Endpoint{}, err
	}

	return e, checkFamily(family, e.Addr)
}

// checkFamily reports an address that is missing or does not match the
// family attribute sent with it.
func checkFamily(family uint16, a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("missing address")
	case family == afInet && !a.Is4(), family == afInet6 && !a.Is6():
		return fmt.Errorf("address %s does not match family %d", a, family)
	case family != afInet && family != afInet6:
		return fmt.Errorf("unknown address family %d", family)
	}

	return nil
}

// decodeIP reads an address attribute of exactly n bytes (network order).
// A wrong length yields the zero Addr, which the caller reports.
func decodeIP(ad *netlink.AttributeDecoder, n int) netip.Addr {
	b := ad.Bytes()
	if len(b) != n {
		return netip.Addr{}
	}

	a, _ := netip.AddrFromSlice(b)

	return a
}

// encodeLimits returns the attributes of a SET_LIMITS request; a nil value
// is left out, which the kernel takes as "keep".
func encodeLimits(subflows, addAddrAccepted *uint32) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	if addAddrAccepted != nil {
		ae.Uint32(attrRcvAddAddrs, *addAddrAccepted)
	}
	if subflows != nil {
		ae.Uint32(attrSubflows, *subflows)
	}

	return ae.Encode()
}

// decodeLimits decodes a GET_LIMITS reply. Both attributes are required:
// the kernel always sends them.
func decodeLimits(b []byte) (Limits, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Limits{}, fmt.Errorf("decoding limits: %w", err)
	}

	var (
		l         Limits
		seen      int
		gotAccept bool
		gotSubf   bool
	)
	for ad.Next() {
		switch ad.Type() {
		case attrRcvAddAddrs:
			l.AddAddrAccepted, gotAccept = ad.Uint32(), true
		case attrSubflows:
			l.Subflows, gotSubf = ad.Uint32(), true
		}
		seen++
	}
	if err := ad.Err(); err != nil {
		return Limits{}, fmt.Errorf("decoding limits: %w", err)
	}

	if !gotAccept || !gotSubf {
		return Limits{}, fmt.Errorf(
			"decoding limits: %d attributes, want add_addr_accepted and subflows",
			seen)
	}

	return l, nil
}

// bigEndian16 reads a u16 attribute in network order (event ports).
func bigEndian16(ad *netlink.AttributeDecoder) uint16 {
	var v uint16
	ad.Do(func(b []byte) error {
		if len(b) != 2 {
			return fmt.Errorf("port attribute of %d bytes, want 2", len(b))
		}
		v = binary.BigEndian.Uint16(b)

		return nil
	})

	return v
}
