package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"golang.org/x/sys/unix"
)

// Failover setup: eth0 (10.1.0.1, default route metric 100) carries the
// connection's initial subflow, wlan0 (10.1.1.1, metric 101) is the
// backup; the server listens on 10.9.9.9, an address on the far
// namespace's loopback, reachable through either link.
const (
	serverAddr   = "10.9.9.9:5201"
	failoverRate = 10 << 20 // bytes per second the client sends
	warmUp       = 1500 * time.Millisecond
)

var failoverContestants = func() []string {
	return append(append([]string(nil), contestants...), static)
}

// failoverFigure measures figure 7: per run and contestant, a fresh env,
// one paced MPTCP upload, then eth0 loses carrier; the figure is the
// longest time without a byte arriving at the server.
func (b *bench) failoverFigure() error {
	stalls := map[string]*dist{}
	before := map[string][]float64{}
	order := failoverContestants()
	for _, name := range order {
		stalls[name] = &dist{}
	}

	rng := rand.New(rand.NewPCG(5, 6))
	observe := 5 * time.Second
	if b.cfg.smoke {
		observe = 2 * time.Second
	}
	for run := range b.cfg.failoverRuns {
		shuffle(rng, order)
		for _, name := range order {
			st, pre, err := b.failover(name, observe)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", name, run, err)
			}
			record(stalls[name], st >= 0, st)
			before[name] = append(before[name], ms(pre))
		}
	}

	b.rep.Samples["failover_stall_us"] = stalls
	b.rep.Samples["failover_longest_gap_before_loss_ms"] = before
	ds := scaleDists(stalls, 1e-3)
	fig := "7 failover"
	p50, worst, runs := map[string]cell{}, map[string]cell{}, map[string]cell{}
	for name, d := range ds {
		p50[name] = d.cell(0.5)
		worst[name] = d.cell(1)
		runs[name] = num(float64(len(d.Samples) + d.Never))
	}
	b.rep.addRow(fig, "longest stall p50", "ms", p50)
	b.rep.addRow(fig, "longest stall max", "ms", worst)
	b.rep.addRow(fig, "runs", "n", runs)
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf(
		"failover: %d KiB/s paced MPTCP upload from the host namespace to %s; eth0's far end goes down %s after connecting; stall = longest gap between reads at the server from the last read before the loss until %s after it (\"never\": no byte arrived again). static = endpoints 10.1.0.1 subflow dev eth0 and 10.1.1.1 subflow backup dev wlan0 added once, no daemon.",
		failoverRate>>10, serverAddr, warmUp, observe))

	return nil
}

// failover runs one failover and returns the longest stall after the loss
// (-1 if the transfer never resumed) and the longest gap before it.
func (b *bench) failover(name string,
	observe time.Duration) (time.Duration, time.Duration, error) {
	r, err := b.newRig(name, "fo-"+short(name), "eth0", "wlan0")
	if err != nil {
		return 0, 0, err
	}
	defer r.close()

	err = r.env.net.ip("addr", "add", "10.9.9.9/32", "dev", "lo")
	if err != nil {
		return 0, 0, err
	}
	if name == static {
		if err := staticEndpoints(r.w.c); err != nil {
			return 0, 0, err
		}
	}

	sink, err := listenSink(r.env.net)
	if err != nil {
		return 0, 0, err
	}
	defer sink.close()

	stop, err := upload(r.env.host)
	if err != nil {
		return 0, 0, err
	}
	defer stop()

	time.Sleep(warmUp)
	loss := time.Now()
	if err := r.env.carrier(0, false); err != nil {
		return 0, 0, err
	}
	time.Sleep(observe)

	stall, pre := sink.stall(loss)
	if sink.bytes() == 0 {
		return 0, 0, fmt.Errorf("no byte reached the server")
	}

	return stall, pre, nil
}

// upload connects from ns to the server and sends until the returned stop
// is called.
func upload(ns *netNS) (func(), error) {
	conn, err := dialMPTCP(ns)
	if err != nil {
		return nil, err
	}

	halt, sent := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sent)
		pace(conn, halt)
	}()

	return func() {
		close(halt)
		conn.Close()
		<-sent
	}, nil
}

func staticEndpoints(c *pm.Client) error {
	for _, e := range []pm.Endpoint{
		{Addr: addr(0, 1), Flags: pm.FlagSubflow, Ifindex: 10},
		{Addr: addr(1, 1), Flags: pm.FlagSubflow | pm.FlagBackup, Ifindex: 11},
	} {
		if _, err := c.AddEndpoint(e); err != nil {
			return err
		}
	}

	return nil
}

// do runs fn on a thread inside ns; sockets made in fn stay there.
func (ns *netNS) do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()

	target, err := os.Open(ns.path())
	if err != nil {
		return err
	}
	defer target.Close()

	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering %s: %w", ns.name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread cannot go back: keep it locked so that the
			// runtime ends it with this goroutine.
			runtime.LockOSThread()
		}
	}()

	return fn()
}

func dialMPTCP(ns *netNS) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	d.SetMultipathTCP(true)
	var c net.Conn
	err := ns.do(func() error {
		var err error
		c, err = d.Dial("tcp", serverAddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", serverAddr, err)
	}
	if mp, err := c.(*net.TCPConn).MultipathTCP(); err != nil || !mp {
		c.Close()
		return nil, fmt.Errorf("connection to %s fell back to TCP", serverAddr)
	}

	return c, nil
}

// pace writes failoverRate bytes per second in 16 KiB chunks until stop.
func pace(c net.Conn, stop <-chan struct{}) {
	buf := make([]byte, 16<<10)
	start := time.Now()
	var sent int64
	for {
		select {
		case <-stop:
			return
		default:
		}
		due := time.Duration(float64(sent) / failoverRate * float64(time.Second))
		if wait := due - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.Write(buf)
		sent += int64(n)
		if err != nil && !os.IsTimeout(err) {
			return
		}
	}
}

// A sink accepts MPTCP connections and keeps the time of every read.
type sink struct {
	ln net.Listener

	mu    sync.Mutex
	reads []time.Time
	total int64
	conns []net.Conn
}

func listenSink(ns *netNS) (*sink, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	s := &sink{}
	err := ns.do(func() error {
		var err error
		s.ln, err = lc.Listen(context.Background(), "tcp", serverAddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", serverAddr, err)
	}
	go s.accept()

	return s, nil
}

func (s *sink) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.read(c)
	}
}

func (s *sink) read(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			now := time.Now()
			s.mu.Lock()
			s.reads = append(s.reads, now)
			s.total += int64(n)
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (s *sink) bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.total
}

// stall returns the longest gap between reads that spans or follows loss,
// from the last read before it (-1 when no read came after loss), and the
// longest gap in the second before loss.
func (s *sink) stall(loss time.Time) (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()

	var longest, pre time.Duration
	after := false
	for i := 1; i < len(s.reads); i++ {
		gap := s.reads[i].Sub(s.reads[i-1])
		switch {
		case s.reads[i].Before(loss):
			if s.reads[i].After(loss.Add(-time.Second)) {
				pre = max(pre, gap)
			}
		default:
			after = true
			longest = max(longest, gap)
		}
	}
	if !after {
		return -1, pre
	}
	// A stall still going on at the end counts up to now.
	longest = max(longest, time.Since(s.reads[len(s.reads)-1]))

	return longest, pre
}

func (s *sink) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}
