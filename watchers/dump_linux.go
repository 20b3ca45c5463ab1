package watchers

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpAttempts bounds the retries of a dump the kernel interrupted
// (NLM_F_DUMP_INTR: the table changed while it was being read).
const dumpAttempts = 5

// handle opens a request socket in the watched namespace.
func (w *watcher) handle() (*netlink.Handle, error) {
	if w.ns == nil {
		return netlink.NewHandle(unix.NETLINK_ROUTE)
	}

	return netlink.NewHandleAt(*w.ns, unix.NETLINK_ROUTE)
}

// dump replaces the state with a dump of links, addresses and routes.
func (w *watcher) dump() error {
	h, err := w.handle()
	if err != nil {
		return fmt.Errorf("dumping: opening netlink socket: %w", err)
	}
	defer h.Close()

	nlinks, err := retryDump(h.LinkList)
	if err != nil {
		return fmt.Errorf("dumping links: %w", err)
	}

	naddrs, err := retryDump(func() ([]netlink.Addr, error) {
		return h.AddrList(nil, netlink.FAMILY_ALL)
	})
	if err != nil {
		return fmt.Errorf("dumping addresses: %w", err)
	}

	routes, err := dumpRoutes(h)
	if err != nil {
		return err
	}

	links := make([]Link, 0, len(nlinks))
	for _, l := range nlinks {
		links = append(links, linkOf(l, w.sysfsFacts))
	}
	addrs := make([]Addr, 0, len(naddrs))
	for _, a := range naddrs {
		if addr, ok := addrOf(a); ok {
			addrs = append(addrs, addr)
		}
	}
	w.state.reset(links, addrs, routes)

	return nil
}

// dumpRoutes dumps the routes of every table.
func (w *watcher) dumpRoutes() ([]Route, error) {
	h, err := w.handle()
	if err != nil {
		return nil, fmt.Errorf("dumping routes: opening netlink socket: %w",
			err)
	}
	defer h.Close()

	return dumpRoutes(h)
}

func dumpRoutes(h *netlink.Handle) ([]Route, error) {
	// RouteList keeps only the main table; a table filter of
	// RT_TABLE_UNSPEC keeps them all (route_linux.go,
	// RouteListFilteredIter).
	filter := &netlink.Route{Table: unix.RT_TABLE_UNSPEC}
	nroutes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, filter,
			netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("dumping routes: %w", err)
	}

	var routes []Route
	for _, r := range nroutes {
		routes = append(routes, routesOf(r)...)
	}

	return routes, nil
}

// retryDump runs dump again while the kernel reports it interrupted.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var res []T
		res, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return res, err
		}
	}

	return nil, err
}
