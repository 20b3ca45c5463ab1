package watchers

import (
	"context"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// lostEvents is the batch followMPTCP sends after losing events: an empty,
// non-nil slice, on which the session forgets the open connections.
var lostEvents = []mptcpEvent{}

// joinMPTCP joins the MPTCP events group of the watched namespace. On
// failure (EPERM without CAP_NET_ADMIN, or a kernel without MPTCP) it logs
// one warning and returns nil: the snapshots then carry no MPTCP facts.
// The watcher joins before its first dump, so that the first snapshot
// does not claim a silence it could not hear.
func (w *watcher) joinMPTCP() *pm.EventConn {
	conn, err := pm.DialEvents(&pm.Config{NetNS: w.nsPath})
	if err != nil {
		w.log.Warn("following mptcp events: going on without", "err", err)
		return nil
	}

	return conn
}

// followMPTCP sends batches of MPTCP events from conn on ch until ctx
// ends. After a receive error (ENOBUFS: events were dropped) it sends
// lostEvents, then joins again after a backoff.
func (w *watcher) followMPTCP(ctx context.Context, conn *pm.EventConn,
	ch chan<- []mptcpEvent) {
	var wait time.Duration
	for {
		start := time.Now()
		err := w.receiveMPTCP(ctx, conn, ch)
		if ctx.Err() != nil {
			return
		}
		wait = nextBackoff(wait, time.Since(start))
		w.log.Warn("resyncing mptcp events", "err", err, "backoff", wait)

		select {
		case <-ctx.Done():
			return
		case ch <- lostEvents:
		}
		if conn = w.rejoinMPTCP(ctx, wait); conn == nil {
			return
		}
	}
}

// rejoinMPTCP joins the events group again, after wait and then with a
// growing backoff, until it succeeds or ctx ends (nil).
func (w *watcher) rejoinMPTCP(ctx context.Context, wait time.Duration,
) *pm.EventConn {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}

		conn, err := pm.DialEvents(&pm.Config{NetNS: w.nsPath})
		if err == nil {
			return conn
		}
		wait = nextBackoff(wait, 0)
		w.log.Warn("joining mptcp events again", "err", err, "backoff", wait)
	}
}

// receiveMPTCP sends what conn receives on ch until an error, and closes
// conn.
func (w *watcher) receiveMPTCP(ctx context.Context, conn *pm.EventConn,
	ch chan<- []mptcpEvent) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if stop() {
			conn.Close()
		}
	}()

	for {
		evs, err := conn.Receive()
		if err != nil {
			return err
		}

		batch := make([]mptcpEvent, 0, len(evs))
		for _, e := range evs {
			w.log.Debug("mptcp event", "type", e.Type.String(),
				"addr", e.Saddr, "ifindex", e.Ifindex)
			batch = append(batch, eventOf(e))
		}
		if len(batch) == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ch <- batch:
		}
	}
}

// eventOf converts a decoded event to what the counters read.
func eventOf(e pm.Event) mptcpEvent {
	return mptcpEvent{
		kind:     mptcpEventKind(e.Type),
		token:    e.Token,
		saddr:    e.Saddr,
		daddr:    e.Daddr,
		sport:    e.Sport,
		dport:    e.Dport,
		remoteID: e.RemoteID,
		ifindex:  int(e.Ifindex),
		err:      uint32(e.Error),
	}
}
