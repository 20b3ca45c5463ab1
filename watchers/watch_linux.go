package watchers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Watch follows the links, addresses and routes (all tables) of one
// network namespace and sends a Snapshot after the initial dump and after
// every change of what a Snapshot holds; messages that change none of it
// send nothing. The channel holds at most one snapshot: an unread one is
// replaced by the newer, so a slow reader always gets the latest state and
// never stalls the netlink readers. It is closed when ctx ends.
//
// Each session subscribes, then dumps, then follows. Netlink multicast
// drops messages when the receive buffer overflows (ENOBUFS), and the
// library reports that and every other receive error only as text, so any
// error ends the session and a new one starts with a fresh dump after a
// backoff (100ms doubling to 30s); Seq keeps growing across sessions.
//
// Watch returns an error only when the namespace cannot be opened.
func Watch(ctx context.Context, opts Options) (<-chan Snapshot, error) {
	w, err := newWatcher(opts)
	if err != nil {
		return nil, err
	}

	out := make(chan Snapshot, 1)
	go w.run(ctx, out)

	return out, nil
}

// watcher is the state of one Watch call.
type watcher struct {
	log    *slog.Logger
	ns     *netns.NsHandle // nil: the caller's namespace
	nsPath string
	rcvbuf int
	force  bool // try SO_RCVBUFFORCE
	sysfs  fs.FS
	mptcp  bool

	state   *state
	counter *mptcpCounter
	seq     uint64
	// last is the snapshot last published, valid when seq > 0.
	last Snapshot
}

func newWatcher(opts Options) (*watcher, error) {
	w := &watcher{
		log:    opts.Log,
		nsPath: opts.NetNS,
		rcvbuf: opts.RcvBuf,
		force:  true,
		sysfs:  opts.Sysfs,
		mptcp:  opts.MPTCPEvents,
		state:  newState(),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "watchers")
	if w.rcvbuf == 0 {
		w.rcvbuf = DefaultRcvBuf
	}
	w.counter = newMPTCPCounter(w.ifindexOf)

	if opts.NetNS == "" {
		if w.sysfs == nil {
			w.sysfs = os.DirFS("/sys")
		}

		return w, nil
	}

	h, err := netns.GetFromPath(opts.NetNS)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", opts.NetNS, err)
	}
	w.ns = &h

	return w, nil
}

// run runs sessions until ctx ends, then closes out.
func (w *watcher) run(ctx context.Context, out chan Snapshot) {
	defer close(out)
	if w.ns != nil {
		defer w.ns.Close()
	}

	var mptcpCh chan []mptcpEvent
	if w.mptcp {
		if conn := w.joinMPTCP(); conn != nil {
			mptcpCh = make(chan []mptcpEvent)
			go w.followMPTCP(ctx, conn, mptcpCh)
		}
	}

	var wait time.Duration
	for {
		start := time.Now()
		err := w.session(ctx, out, mptcpCh)
		if ctx.Err() != nil {
			return
		}

		wait = nextBackoff(wait, time.Since(start))
		w.log.Warn("resyncing after netlink trouble", "err", err,
			"backoff", wait)

		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// message is one update from any of the session's sources.
type message struct {
	link  *netlink.LinkUpdate
	addr  *netlink.AddrUpdate
	route *netlink.RouteUpdate
	mptcp []mptcpEvent
}

// session subscribes, dumps, publishes, then follows updates until an
// error or the end of ctx.
func (w *watcher) session(ctx context.Context, out chan Snapshot,
	mptcpCh <-chan []mptcpEvent) error {
	done := make(chan struct{})
	defer close(done)

	errc := make(chan error, 1)
	msgs, err := w.subscribe(done, errc)
	if err != nil {
		return err
	}

	if err := w.dump(); err != nil {
		return err
	}
	w.publish(out)

	for {
		var m message
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("receiving rtnetlink messages: %w", err)
		case m = <-msgs:
		case evs := <-mptcpCh:
			m.mptcp = evs
		}

		if err := w.apply(m, msgs, mptcpCh); err != nil {
			return err
		}
		w.publish(out)
	}
}

// apply applies m and every message already waiting, then re-dumps routes
// if one of them can have changed routes silently.
//
// Route messages read after the re-dump but sent before it replay older
// states; each carries the whole route, so the last message about a route
// wins and the state ends right. The one residual case is a RTM_NEWROUTE
// sent just before a silent removal and read after the re-dump: the route
// stays in the state until the next message about it or the next re-dump.
// TODO(watchers): close it by re-dumping once more when a route message
// follows a re-dump within the same batch; not done yet for lack of a
// reproducer.
func (w *watcher) apply(m message, msgs <-chan message,
	mptcpCh <-chan []mptcpEvent) error {
	stale := false
	for {
		stale = w.applyOne(m) || stale

		select {
		case m = <-msgs:
			continue
		case evs := <-mptcpCh:
			m = message{mptcp: evs}
			continue
		default:
		}

		break
	}
	if !stale {
		return nil
	}

	routes, err := w.dumpRoutes()
	if err != nil {
		return err
	}
	w.state.setRoutes(routes)

	return nil
}

// applyOne applies one message to the state and reports whether routes
// must be dumped again.
func (w *watcher) applyOne(m message) (routesStale bool) {
	switch {
	case m.link != nil:
		return w.applyLink(m.link)
	case m.addr != nil:
		a, ok := addrOfUpdate(*m.addr)
		if !ok {
			return false
		}
		w.log.Debug("address update", "ifindex", a.Index, "addr", a.Prefix,
			"new", m.addr.NewAddr)
		if m.addr.NewAddr {
			w.state.setAddr(a)
			return false
		}
		w.state.delAddr(a)

		return true
	case m.route != nil:
		hops := routesOf(m.route.Route)
		if m.route.Type == unix.RTM_DELROUTE {
			w.state.delRoute(hops)
			return false
		}
		w.state.addRoute(hops, m.route.NlFlags&unix.NLM_F_REPLACE != 0)
	case m.mptcp != nil:
		if len(m.mptcp) == 0 {
			w.counter.forget()
		}
		for _, e := range m.mptcp {
			w.counter.apply(e)
		}
	}

	return false
}

func (w *watcher) applyLink(u *netlink.LinkUpdate) bool {
	l := linkOf(u.Link, w.sysfsFacts)
	w.log.Debug("link update", "ifindex", l.Index, "ifname", l.Name,
		"type", u.Header.Type)
	if u.Header.Type == unix.RTM_DELLINK {
		w.state.delLink(l.Index)
		return true
	}

	return w.state.setLink(l)
}

// publish sends the state as a new snapshot when it differs from the one
// last sent. Many messages change nothing that a snapshot keeps (routes of
// the local table, an address re-announced with the same facts, a link
// message for statistics), and a snapshot that repeats the last one would
// cost the engine a reconcile for nothing.
func (w *watcher) publish(out chan Snapshot) {
	s := w.state.snapshot(w.seq+1, time.Now())
	s.MPTCP = w.counter.snapshot()
	if w.seq > 0 && s.SameNetwork(w.last) && s.MPTCP.Equal(w.last.MPTCP) {
		return
	}

	w.seq++
	w.last = s
	publish(out, s)
}

// ifindexOf returns the link holding the local address a, or 0.
func (w *watcher) ifindexOf(a netip.Addr) int {
	for k := range w.state.addrs {
		if k.prefix.Addr() == a {
			return k.index
		}
	}

	return 0
}

// sysfsFacts adds sysfs facts to f when the watcher reads sysfs.
func (w *watcher) sysfsFacts(f Facts) Facts {
	if w.sysfs == nil {
		return f
	}

	sf, err := ReadSysfs(w.sysfs, f)
	if err != nil {
		w.log.Debug("reading sysfs", "ifname", f.Name, "err", err)
		return f
	}

	return sf
}

// subscribe opens the three rtnetlink subscriptions and merges them into
// one channel, in order within each. Receive errors go to errc; closing
// done ends the subscriptions and their goroutines.
func (w *watcher) subscribe(done <-chan struct{}, errc chan error,
) (<-chan message, error) {
	onErr := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	msgs := make(chan message)

	err := w.trySubscribe(done, msgs, onErr)
	if err != nil && w.force && errors.Is(err, unix.EPERM) {
		// SO_RCVBUFFORCE needs CAP_NET_ADMIN; settle for rmem_max.
		w.force = false
		err = w.trySubscribe(done, msgs, onErr)
	}
	if err != nil {
		return nil, fmt.Errorf("subscribing to rtnetlink: %w", err)
	}

	return msgs, nil
}

func (w *watcher) trySubscribe(done <-chan struct{}, msgs chan<- message,
	onErr func(error)) error {
	// A failed subscription leaves the earlier ones running until done
	// closes, which the caller does on return.
	links := make(chan netlink.LinkUpdate)
	err := netlink.LinkSubscribeWithOptions(links, done,
		netlink.LinkSubscribeOptions{Namespace: w.ns,
			ErrorCallback: onErr, ReceiveBufferSize: w.rcvbuf,
			ReceiveBufferForceSize: w.force})
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	go forward(done, links, msgs, func(u netlink.LinkUpdate) message {
		return message{link: &u}
	})

	addrs := make(chan netlink.AddrUpdate)
	err = netlink.AddrSubscribeWithOptions(addrs, done,
		netlink.AddrSubscribeOptions{Namespace: w.ns,
			ErrorCallback: onErr, ReceiveBufferSize: w.rcvbuf,
			ReceiveBufferForceSize: w.force})
	if err != nil {
		return fmt.Errorf("addresses: %w", err)
	}
	go forward(done, addrs, msgs, func(u netlink.AddrUpdate) message {
		return message{addr: &u}
	})

	routes := make(chan netlink.RouteUpdate)
	err = netlink.RouteSubscribeWithOptions(routes, done,
		netlink.RouteSubscribeOptions{Namespace: w.ns,
			ErrorCallback: onErr, ReceiveBufferSize: w.rcvbuf,
			ReceiveBufferForceSize: w.force})
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	go forward(done, routes, msgs, func(u netlink.RouteUpdate) message {
		return message{route: &u}
	})

	return nil
}

// forward copies updates from in to out until done closes, then drains in
// so that the library's reader, blocked on sending, sees done and ends.
func forward[T any](done <-chan struct{}, in <-chan T, out chan<- message,
	wrap func(T) message) {
	for u := range in {
		select {
		case out <- wrap(u):
		case <-done:
			for range in {
			}
			return
		}
	}
}
