package main

import (
	"fmt"
	"strings"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// An ifnameFunc returns the name of the interface with index i in the
// namespace the command acts on, or "" when there is none.
type ifnameFunc func(i int32) string

// devName names interface i as iproute2's ll_index_to_name does: its
// name, or "ifN" when it is gone.
func devName(i int32, ifname ifnameFunc) string {
	if ifname != nil {
		if n := ifname(i); n != "" {
			return n
		}
	}

	return fmt.Sprintf("if%d", i)
}

// formatEndpointText formats e as one line of `ip mptcp endpoint show`,
// every field followed by a space as iproute2 6.1 prints it:
// "ADDR [port P] id N [flags] [rawflags XX] [dev IF] ". implicit and
// laminar are named, which iproute2 6.1 prints as rawflags 10 and 20.
func formatEndpointText(e pm.Endpoint, ifname ifnameFunc) string {
	var b strings.Builder
	b.WriteString(e.Addr.String() + " ")
	if e.Port != 0 {
		fmt.Fprintf(&b, "port %d ", e.Port)
	}
	fmt.Fprintf(&b, "id %d ", e.ID)

	names, unknown := e.Flags.Names()
	for _, n := range names {
		b.WriteString(n + " ")
	}
	if unknown != 0 {
		fmt.Fprintf(&b, "rawflags %02x ", uint32(unknown))
	}

	if e.Ifindex != 0 {
		b.WriteString("dev " + devName(e.Ifindex, ifname) + " ")
	}
	b.WriteString("\n")

	return b.String()
}

// writeEndpointJSON writes e as one object of `ip -j mptcp endpoint
// show`: flags as booleans, unknown bits as a "rawflags" hex string.
func writeEndpointJSON(w *jsonWriter, e pm.Endpoint, ifname ifnameFunc) {
	w.startObject()
	w.str("address", e.Addr.String())
	if e.Port != 0 {
		w.uint("port", uint64(e.Port))
	}
	w.uint("id", uint64(e.ID))

	names, unknown := e.Flags.Names()
	for _, n := range names {
		w.bool(n, true)
	}
	if unknown != 0 {
		w.str("rawflags", fmt.Sprintf("%02x", uint32(unknown)))
	}

	if e.Ifindex != 0 {
		w.str("dev", devName(e.Ifindex, ifname))
	}
	w.endObject()
}

// formatEndpoints formats an endpoint table (or one endpoint, for `show
// id N`) as text or, with o.json, as ip's JSON array.
func formatEndpoints(eps []pm.Endpoint, ifname ifnameFunc, o options) string {
	if !o.json {
		var b strings.Builder
		for _, e := range eps {
			b.WriteString(formatEndpointText(e, ifname))
		}

		return b.String()
	}

	w := &jsonWriter{pretty: o.pretty}
	w.startArray()
	for _, e := range eps {
		writeEndpointJSON(w, e, ifname)
	}
	w.endArray()

	return w.String()
}

// formatLimits formats the limits as `ip mptcp limits show` prints them,
// with the trailing space, or as the JSON object
// {"add_addr_accepted": A, "subflows": S}. iproute2 6.1 prints text even
// with -j; this CLI does not copy that.
func formatLimits(l pm.Limits, o options) string {
	if !o.json {
		return fmt.Sprintf("add_addr_accepted %d subflows %d \n",
			l.AddAddrAccepted, l.Subflows)
	}

	w := &jsonWriter{pretty: o.pretty}
	w.startObject()
	w.uint("add_addr_accepted", uint64(l.AddAddrAccepted))
	w.uint("subflows", uint64(l.Subflows))
	w.endObject()

	return w.String()
}
