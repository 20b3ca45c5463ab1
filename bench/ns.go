package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// nsPrefix starts the name of every namespace the bench makes, so that a
// leftover one is easy to spot (`ip netns list | grep mpa-bench`). The
// "mpa-" part matches internal/nstest's prefix.
const nsPrefix = "mpa-bench-"

var nsCounter atomic.Uint32

// A netNS is a network namespace made by the bench. Everything the bench
// changes in the network happens inside one: links are created with
// `ip -n`, and the netlink handle is opened in the namespace, never in the
// bench's own.
type netNS struct {
	name string
	nl   *netlink.Handle
}

// cleanups holds what must be undone before the bench exits, newest last.
var cleanups struct {
	sync.Mutex
	fns []func()
}

func atExit(fn func()) {
	cleanups.Lock()
	defer cleanups.Unlock()
	cleanups.fns = append(cleanups.fns, fn)
}

// runCleanups undoes everything registered with atExit, newest first.
func runCleanups() {
	cleanups.Lock()
	fns := cleanups.fns
	cleanups.fns = nil
	cleanups.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// newNS makes a namespace with loopback up and IPv6 off, so that only the
// IPv4 addresses a figure adds can become endpoints. Its teardown kills
// what still runs inside; close runs it early.
func newNS(tag string) (*netNS, error) {
	name := fmt.Sprintf("%s%s-%d-%d", nsPrefix, tag, os.Getpid(),
		nsCounter.Add(1))
	if _, err := run("ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("adding netns %s: %w", name, err)
	}

	ns := &netNS{name: name}
	atExit(ns.close)

	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", name, err)
	}
	defer h.Close()

	ns.nl, err = netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}

	for _, kv := range [][2]string{
		{"net.ipv6.conf.all.disable_ipv6", "1"},
		{"net.ipv6.conf.default.disable_ipv6", "1"},
	} {
		if err := ns.sysctl(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}

	return ns, ns.ip("link", "set", "lo", "up")
}

// path is the namespace's bind mount, for pm.Config.NetNS.
func (ns *netNS) path() string { return "/run/netns/" + ns.name }

// close kills what runs in the namespace and deletes it. It is safe to call
// twice.
func (ns *netNS) close() {
	if ns.nl != nil {
		ns.nl.Close()
		ns.nl = nil
	}
	out, err := run("ip", "netns", "pids", ns.name)
	if err != nil {
		return // already gone
	}
	for _, pid := range strings.Fields(out) {
		run("kill", "-9", pid)
	}
	run("ip", "netns", "del", ns.name)
}

// ip runs `ip -n NAME args...`.
func (ns *netNS) ip(args ...string) error {
	_, err := run("ip", append([]string{"-n", ns.name}, args...)...)

	return err
}

// sysctl sets key inside the namespace.
func (ns *netNS) sysctl(key, value string) error {
	_, err := run("ip", "netns", "exec", ns.name, "sysctl", "-q", "-w",
		key+"="+value)

	return err
}

// command returns an unstarted command that runs inside the namespace.
// `ip netns exec` execs the program, so the command's pid is the
// program's.
func (ns *netNS) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip",
		append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// veth links ns (end name, ifindex index) to peer (peerName, peerIndex)
// and sets both ends up. Distinct ifindexes make the kernel's link-watch
// pass carrier changes on at once instead of batching them for up to a
// second (net/core/link_watch.c, linkwatch_urgent_event).
func (ns *netNS) veth(name string, index int, peer *netNS,
	peerName string, peerIndex int) error {
	err := ns.ip("link", "add", name, "index", fmt.Sprint(index),
		"type", "veth", "peer", "name", peerName,
		"index", fmt.Sprint(peerIndex), "netns", peer.name)
	if err != nil {
		return err
	}

	if err := ns.ip("link", "set", name, "up"); err != nil {
		return err
	}

	return peer.ip("link", "set", peerName, "up")
}

func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name,
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}

	return stdout.String(), nil
}
