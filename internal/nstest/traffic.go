package nstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A Sink is an MPTCP server inside a namespace that reads and counts every
// byte its clients send.
type Sink struct {
	ln       net.Listener
	received atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

// ListenMPTCP starts a Sink on addr ("203.0.113.100:8080") inside ns.
func (ns *NS) ListenMPTCP(addr string) (*Sink, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)

	s := &Sink{}
	err := ns.Do(func() error {
		var err error
		s.ln, err = lc.Listen(context.Background(), "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in %s: %w", addr, ns.Name, err)
	}

	s.wg.Add(1)
	go s.accept()

	return s, nil
}

// Addr is the address the sink listens on.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Received is the number of bytes read so far from all clients.
func (s *Sink) Received() int64 { return s.received.Load() }

// Close stops the sink and its connections.
func (s *Sink) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()

		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				s.received.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
}

// A Stream is one MPTCP connection that sends data until stopped.
type Stream struct {
	conn net.Conn
	sent atomic.Int64
	done chan error
}

// StreamMPTCP connects from inside ns to addr over MPTCP and keeps sending,
// at most rate bytes per second (0: as fast as the connection allows).
func (ns *NS) StreamMPTCP(addr string, rate int) (*Stream, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	d.SetMultipathTCP(true)

	st := &Stream{done: make(chan error, 1)}
	err := ns.Do(func() error {
		var err error
		st.conn, err = d.Dial("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s from %s: %w", addr, ns.Name, err)
	}
	if tc, ok := st.conn.(*net.TCPConn); ok {
		if mp, err := tc.MultipathTCP(); err != nil || !mp {
			st.conn.Close()
			return nil, fmt.Errorf("connection to %s fell back to TCP", addr)
		}
	}

	go st.send(rate)

	return st, nil
}

// LocalAddr is the address the initial subflow left from.
func (st *Stream) LocalAddr() net.Addr { return st.conn.LocalAddr() }

// Sent is the number of bytes written so far.
func (st *Stream) Sent() int64 { return st.sent.Load() }

// Stop closes the connection and returns the send error, if any other than
// the close itself.
func (st *Stream) Stop() error {
	st.conn.Close()
	err := <-st.done
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}

	return err
}

func (st *Stream) send(rate int) {
	buf := make([]byte, 16<<10)
	start := time.Now()
	for {
		if rate > 0 {
			due := time.Duration(float64(st.sent.Load()) / float64(rate) * float64(time.Second))
			if wait := due - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
		}
		st.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		n, err := st.conn.Write(buf)
		st.sent.Add(int64(n))
		if err != nil {
			st.done <- err
			return
		}
	}
}
