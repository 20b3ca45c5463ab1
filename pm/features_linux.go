package pm

// BUG(pm): Client.Features probes flag support by adding and deleting an
// endpoint, because no kernel answer tells LAMINAR support apart otherwise
// (the FLAGS attribute policy is a plain u32 on 6.18).

// Features reports what the kernel supports. The command-level fields come
// from the nlctrl description read at Dial. The flag fields come from a
// probe made on the first call: an endpoint for probeAddr is added with
// LAMINAR and an undefined bit, read back and deleted. The probe needs
// CAP_NET_ADMIN and a free slot, costs one delete (about 13 ms) and
// advances the kernel's id counter by one; when it cannot run, Probed is
// false and the flag fields are false. The result is cached.
func (c *Client) Features() Features {
	c.featOnce.Do(func() {
		c.feat = probeFlags(c, c.family.opFeatures())
	})

	return c.feat
}

// addUnchecked sends an add without Validate and without reading it back:
// the probe's flags hold a bit no kernel defines.
func (c *Client) addUnchecked(e Endpoint) error {
	data, err := encodeEndpoint(e)
	if err != nil {
		return err
	}

	return c.do(cmdAddAddr, data)
}
