package pm

import "net/netip"

// BUG(pm): Client.Features probes flag support by adding and deleting an
// endpoint, because no kernel answer tells LAMINAR support apart otherwise
// (the FLAGS attribute policy is a plain u32 on 6.18).

// probeAddr is the address the flag probe adds: in the IPv6 discard-only
// prefix (RFC 6666), so it is local nowhere and routed nowhere. With no
// signal or subflow flag, the probe endpoint announces nothing and opens
// nothing while it exists.
var probeAddr = netip.MustParseAddr("100::6d70:7470:6d")

// Features reports what the kernel supports. The command-level fields come
// from the nlctrl description read at Dial. The flag fields come from a
// probe made on the first call: an endpoint for probeAddr is added with
// LAMINAR and an undefined bit, read back and deleted. The probe needs
// CAP_NET_ADMIN and a free slot, costs one delete (about 13 ms) and
// advances the kernel's id counter by one; when it cannot run, Probed is
// false and the flag fields are false. The result is cached.
func (c *Client) Features() Features {
	c.featOnce.Do(func() {
		c.feat = c.probe(c.family.opFeatures())
	})

	return c.feat
}

func (c *Client) probe(f Features) Features {
	e := Endpoint{Addr: probeAddr, Flags: flagProbe}
	data, err := encodeEndpoint(e)
	if err != nil {
		return f
	}

	if err := c.do(cmdAddAddr, data); err != nil {
		return f
	}

	stored, err := c.readBack(e)
	if err != nil {
		return f
	}

	// Best effort: a probe left behind is an ordinary flag-less endpoint
	// on an address nothing uses.
	_ = c.DeleteEndpoint(stored.ID, netip.Addr{})

	return probedFeatures(f, stored.Flags)
}
