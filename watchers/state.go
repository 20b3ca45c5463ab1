package watchers

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// state is what one watch session knows about its namespace, kept from
// decoded rtnetlink messages. It is not safe for concurrent use: one
// goroutine owns it and hands out copies as Snapshots.
//
// Links and addresses are maintained from their messages alone, which is
// exact: the kernel sends RTM_NEWLINK with the whole link on every change,
// RTM_NEWADDR/RTM_DELADDR on every address change, and RTM_DELADDR for
// each address a vanishing link takes with it (inetdev_destroy,
// addrconf_ifdown). Routes are not: IPv4 drops routes of a downed device or
// a removed address and sets RTNH_F_LINKDOWN on carrier loss without any
// RTM_DELROUTE or RTM_NEWROUTE (net/ipv4/fib_semantics.c, fib_sync_down_dev
// and fib_sync_down_addr), so the session re-dumps routes after such
// changes (see needRouteDump) and replaces them with setRoutes.
type state struct {
	links  map[int]Link
	addrs  map[addrKey]Addr
	routes map[routeKey]Route
}

// addrKey is an address's identity in the kernel: the link, the address
// and its prefix length (IPv4 accepts one address twice with different
// prefix lengths).
type addrKey struct {
	index  int
	prefix netip.Prefix
}

// routeKey is the identity of one next hop of a route. A multipath route
// is stored as one entry per hop.
type routeKey struct {
	family  int
	table   int
	dst     netip.Prefix
	metric  int
	link    int
	gateway netip.Addr
}

func keyOfRoute(r Route) routeKey {
	return routeKey{r.Family, r.Table, r.Dst, r.Metric, r.LinkIndex, r.Gateway}
}

// groupOf is the identity of a whole route, all hops together: what
// NLM_F_REPLACE replaces.
func groupOf(k routeKey) routeKey {
	return routeKey{family: k.family, table: k.table, dst: k.dst,
		metric: k.metric}
}

func newState() *state {
	return &state{
		links:  make(map[int]Link),
		addrs:  make(map[addrKey]Addr),
		routes: make(map[routeKey]Route),
	}
}

// reset replaces everything with the result of a dump.
func (s *state) reset(links []Link, addrs []Addr, routes []Route) {
	*s = *newState()
	for _, l := range links {
		s.setLink(l)
	}
	for _, a := range addrs {
		s.setAddr(a)
	}
	s.setRoutes(routes)
}

// setLink applies RTM_NEWLINK. It reports whether the change can have
// altered routes without a route message: the link is new, or went up or
// down administratively or in carrier.
func (s *state) setLink(l Link) (routesStale bool) {
	old, ok := s.links[l.Index]
	s.links[l.Index] = l

	return !ok || old.Up != l.Up || old.Carrier != l.Carrier
}

// delLink applies RTM_DELLINK: the link goes, and so does everything that
// lived on it, whether or not the kernel's own deletions have arrived yet.
func (s *state) delLink(index int) {
	delete(s.links, index)
	maps.DeleteFunc(s.addrs, func(k addrKey, _ Addr) bool {
		return k.index == index
	})
	maps.DeleteFunc(s.routes, func(k routeKey, _ Route) bool {
		return k.link == index
	})
}

// setAddr applies RTM_NEWADDR.
func (s *state) setAddr(a Addr) {
	s.addrs[addrKey{a.Index, a.Prefix}] = a
}

// delAddr applies RTM_DELADDR.
func (s *state) delAddr(a Addr) {
	delete(s.addrs, addrKey{a.Index, a.Prefix})
}

// addRoute applies RTM_NEWROUTE for the hops of one route. With replace
// (NLM_F_REPLACE) the hops replace every hop of the same route.
func (s *state) addRoute(hops []Route, replace bool) {
	if replace && len(hops) > 0 {
		g := groupOf(keyOfRoute(hops[0]))
		maps.DeleteFunc(s.routes, func(k routeKey, _ Route) bool {
			return groupOf(k) == g
		})
	}
	for _, r := range hops {
		s.routes[keyOfRoute(r)] = r
	}
}

// delRoute applies RTM_DELROUTE for the hops of one route.
func (s *state) delRoute(hops []Route) {
	for _, r := range hops {
		delete(s.routes, keyOfRoute(r))
	}
}

// setRoutes replaces all routes with the result of a route dump.
func (s *state) setRoutes(routes []Route) {
	clear(s.routes)
	s.addRoute(routes, false)
}

// snapshot returns the state as a Snapshot, sorted so that equal states
// give equal snapshots. Addresses and routes of links the state does not
// know are left out: the link, address and route messages come on three
// sockets, so an address can be read before its link, or just after the
// link's deletion.
func (s *state) snapshot(seq uint64, now time.Time) Snapshot {
	snap := Snapshot{Seq: seq, Taken: now}
	snap.Links = slices.SortedFunc(maps.Values(s.links), compareLinks)
	for _, a := range s.addrs {
		if _, ok := s.links[a.Index]; ok {
			snap.Addrs = append(snap.Addrs, a)
		}
	}
	slices.SortFunc(snap.Addrs, compareAddrs)
	for _, r := range s.routes {
		if _, ok := s.links[r.LinkIndex]; ok || r.LinkIndex == 0 {
			snap.Routes = append(snap.Routes, r)
		}
	}
	slices.SortFunc(snap.Routes, compareRoutes)

	return snap
}

func compareLinks(a, b Link) int { return cmp.Compare(a.Index, b.Index) }

func compareAddrs(a, b Addr) int {
	return cmp.Or(
		cmp.Compare(a.Index, b.Index),
		comparePrefixes(a.Prefix, b.Prefix),
	)
}

func compareRoutes(a, b Route) int {
	return cmp.Or(
		cmp.Compare(a.Table, b.Table),
		cmp.Compare(a.Family, b.Family),
		comparePrefixes(a.Dst, b.Dst),
		cmp.Compare(a.Metric, b.Metric),
		cmp.Compare(a.LinkIndex, b.LinkIndex),
		a.Gateway.Compare(b.Gateway),
	)
}

func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
