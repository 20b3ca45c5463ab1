package watchers

import (
	"context"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// lostEvents is the batch followMPTCP sends after losing events: an empty,
// non-nil slice, on which the session forgets the open connections.
var lostEvents = []mptcpEvent{}

// followMPTCP sends batches of MPTCP events on ch until ctx ends. When the
// first join fails (EPERM without CAP_NET_ADMIN, or a kernel without
// MPTCP) it logs one warning and gives up: the snapshots then carry no
// MPTCP facts. After a receive error (ENOBUFS: events were dropped) it
// sends lostEvents, then joins again with a backoff.
func (w *watcher) followMPTCP(ctx context.Context, ch chan<- []mptcpEvent) {
	var wait time.Duration
	for joined := false; ; joined = true {
		conn, err := pm.DialEvents(&pm.Config{NetNS: w.nsPath})
		if err != nil && !joined {
			w.log.Warn("following mptcp events: going on without",
				"err", err)
			return
		}
		if err == nil {
			start := time.Now()
			err = w.receiveMPTCP(ctx, conn, ch)
			wait = nextBackoff(wait, time.Since(start))
		}
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("resyncing mptcp events", "err", err, "backoff", wait)

		select {
		case <-ctx.Done():
			return
		case ch <- lostEvents:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
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
