package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// eventSource is the part of *pm.EventConn the monitor uses.
type eventSource interface {
	Receive() ([]pm.Event, error)
	Close() error
}

var _ eventSource = (*pm.EventConn)(nil)

// dialEvents joins the event group of the namespace at path.
func dialEvents(path string) (eventSource, error) {
	return pm.DialEvents(&pm.Config{NetNS: path})
}

// monitor runs `monitor`: it prints every MPTCP event of the namespace
// until SIGINT or SIGTERM, then exits 0 as newer ip does.
func (s *session) monitor(args []string) error {
	if err := parseMonitor(s.scanner(args)); err != nil {
		return err
	}

	path, err := s.netnsPath()
	if err != nil {
		return err
	}

	ev, err := dialEvents(path)
	if err != nil {
		return exitWith(1,
			fmt.Errorf("can't subscribe to mptcp events: %w", err))
	}

	var stopped atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			stopped.Store(true)
			ev.Close()
		}
	}()

	err = s.follow(ev, path, time.Now)
	if stopped.Load() {
		return nil
	}
	ev.Close()

	return err
}

// follow prints events from ev until it fails. Lost events are reported
// on standard error and following goes on, as ip's rtnl_listen does on
// ENOBUFS.
func (s *session) follow(ev eventSource, path string,
	now func() time.Time) error {
	ifname := func(i int32) string { return s.ifname(path, i) }
	for {
		evs, err := ev.Receive()
		if errors.Is(err, pm.ErrEventsLost) {
			fmt.Fprintf(s.errOut, "netlink receive error %s (%d)\n",
				"No buffer space available", syscall.ENOBUFS)
			continue
		}
		if err != nil {
			return exitWith(exitKernel, err)
		}

		t := now()
		for _, e := range evs {
			if err := s.write(formatEvent(e, t, s.opts, ifname)); err != nil {
				return err
			}
		}
	}
}
