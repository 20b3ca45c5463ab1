package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The contestants, in the order the table prints them.
const (
	autopm = "mptcp-autopm"
	mptcpd = "mptcpd"
	floor  = "floor"
	static = "static" // failover only: endpoints set once by hand
)

var contestants = []string{autopm, mptcpd, floor}

// A daemon is one contestant's process, running inside an env's host
// namespace. Its standard output and error go to a log file; lines that
// match opLine count as kernel operations.
type daemon struct {
	name string
	cmd  *exec.Cmd
	ops  atomic.Int64

	// batches are the lines that reported operations, in order: when
	// each was read and how many operations it reported.
	mu      sync.Mutex
	batches []batch
	done    chan struct{}
	log     string
}

// launcher starts contestants. Every daemon gets the same kind of
// namespace and is started the same way: `ip netns exec HOST program`.
type launcher struct {
	work   string // directory for state and the rules file
	logs   string // directory for this run's daemon logs
	bin    string // mptcp-autopm
	self   string // this program, for the floor
	mptcpd mptcpdBin
	seq    atomic.Int64
}

// opCounters count the kernel operations one line of a contestant's log
// reports. mptcpd logs none of its own.
var opCounters = map[string]func(line []byte) int{
	autopm: autopmOps,
	floor:  floorOps,
}

var floorOp = regexp.MustCompile(`^op (add|del) `)

func floorOps(line []byte) int {
	if floorOp.Match(line) {
		return 1
	}

	return 0
}

// start runs contestant name in ns.
func (l *launcher) start(name string, ns *netNS) (*daemon, error) {
	n := l.seq.Add(1)
	d := &daemon{
		name: name,
		done: make(chan struct{}),
		log:  filepath.Join(l.logs, fmt.Sprintf("%03d-%s.log", n, name)),
	}

	switch name {
	case autopm:
		dir := filepath.Join(l.work, "state", fmt.Sprint(n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		d.cmd = ns.command(l.bin, autopmArgs(l.work, dir)...)
	case mptcpd:
		d.cmd = ns.command("env", l.mptcpd.args()...)
	case floor:
		d.cmd = ns.command(l.self, "-floor")
	default:
		return nil, fmt.Errorf("no daemon for contestant %q", name)
	}

	if err := d.run(opCounters[name]); err != nil {
		return nil, fmt.Errorf("starting %s in %s: %w", name, ns.name, err)
	}
	atExit(d.stop)

	return d, nil
}

func (d *daemon) run(count func([]byte) int) error {
	if err := os.MkdirAll(filepath.Dir(d.log), 0o755); err != nil {
		return err
	}

	f, err := os.Create(d.log)
	if err != nil {
		return err
	}

	r, w := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		f.Close()
		return err
	}

	var copying sync.WaitGroup
	copying.Add(1)
	go func() {
		defer copying.Done()
		d.scan(r, f, count)
	}()
	go func() {
		d.cmd.Wait()
		w.Close()
		copying.Wait()
		f.Close()
		close(d.done)
	}()

	return nil
}

// A batch is one log line's worth of kernel operations.
type batch struct {
	at  time.Time
	ops int
}

// firstBatch is the number of operations of the first line read after t,
// 0 if none.
func (d *daemon) firstBatch(t time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.batches {
		if b.at.After(t) {
			return b.ops
		}
	}

	return 0
}

// quiet waits until the daemon has logged kernel operations and then none
// for calm, so that a figure measured afterwards counts none of the
// start-up ones: the endpoints are in the kernel a little before the line
// that logs them is read. It gives up after limit.
func (d *daemon) quiet(calm, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		var last time.Time
		if n := len(d.batches); n > 0 {
			last = d.batches[n-1].at
		}
		d.mu.Unlock()

		if !last.IsZero() && time.Since(last) >= calm {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *daemon) scan(r io.Reader, f *os.File, count func([]byte) int) {
	if count == nil {
		count = func([]byte) int { return 0 }
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if n := count(line); n > 0 {
			d.ops.Add(int64(n))
			d.mu.Lock()
			d.batches = append(d.batches, batch{time.Now(), n})
			d.mu.Unlock()
		}
		f.Write(append(line, '\n'))
	}
	io.Copy(io.Discard, r)
}

// pid is the daemon's process id: `ip netns exec` and env(1) exec the
// program, so the process started is the daemon itself.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// exited reports whether the process is gone.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after two seconds, SIGKILL.
func (d *daemon) stop() {
	if d.exited() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}
