// Package watchertest is a fake source of watchers.Snapshots for the tests
// of packages that consume them (the engine). A Source delivers snapshots
// with the same contract as watchers.Watch: a channel of capacity one that
// always holds the latest snapshot, growing Seq, closed when the context
// ends.
package watchertest

import (
	"context"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// A Source hands snapshots pushed by a test to the code under test. Its
// methods are safe for concurrent use.
type Source struct {
	mu     sync.Mutex
	ch     chan watchers.Snapshot
	seq    uint64
	closed bool
	last   watchers.Snapshot
}

// New returns a Source whose channel closes when ctx ends.
func New(ctx context.Context) *Source {
	s := &Source{ch: make(chan watchers.Snapshot, 1)}
	context.AfterFunc(ctx, s.close)

	return s
}

// C returns the channel, as watchers.Watch does.
func (s *Source) C() <-chan watchers.Snapshot { return s.ch }

// Watch has the signature of watchers.Watch, for code that takes the
// watcher as a func; it ignores ctx and opts and returns C.
func (s *Source) Watch(context.Context, watchers.Options,
) (<-chan watchers.Snapshot, error) {
	return s.ch, nil
}

// Push sends snap, replacing an unread older snapshot. It sets Seq to the
// next number and, when Taken is zero, Taken to now. It does nothing
// after the context ended.
func (s *Source) Push(snap watchers.Snapshot) watchers.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return snap
	}

	s.seq++
	snap.Seq = s.seq
	if snap.Taken.IsZero() {
		snap.Taken = time.Now()
	}
	s.last = snap
	for {
		select {
		case s.ch <- snap:
			return snap
		default:
		}
		select {
		case <-s.ch:
		default:
		}
	}
}

// Update pushes a copy of the last pushed snapshot changed by fn, which
// may modify the copy's slices freely.
func (s *Source) Update(fn func(*watchers.Snapshot)) watchers.Snapshot {
	s.mu.Lock()
	next := clone(s.last)
	s.mu.Unlock()
	next.Taken = time.Time{}
	fn(&next)

	return s.Push(next)
}

// Last returns the last snapshot pushed.
func (s *Source) Last() watchers.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.last
}

// String renders the last snapshot pushed as text (watchers.Snapshot's
// String).
func (s *Source) String() string { return s.Last().String() }

func (s *Source) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	close(s.ch)
}

func clone(s watchers.Snapshot) watchers.Snapshot {
	c := s
	c.Links = append([]watchers.Link(nil), s.Links...)
	c.Addrs = append([]watchers.Addr(nil), s.Addrs...)
	c.Routes = append([]watchers.Route(nil), s.Routes...)
	if s.MPTCP.Subflows != nil {
		c.MPTCP.Subflows = make(map[watchers.SubflowKey]watchers.SubflowCount,
			len(s.MPTCP.Subflows))
		for k, v := range s.MPTCP.Subflows {
			c.MPTCP.Subflows[k] = v
		}
	}

	return c
}
