// Package nstest gives privileged tests network namespaces of their own.
//
// Every namespace is made by the test with `ip netns add`, deleted by
// t.Cleanup, and named with the prefix "mpa-" so a leftover one is easy to
// spot. Nothing here touches the namespace the test process runs in: links
// are created directly inside test namespaces (`ip -n`), and Do enters a
// namespace on a locked OS thread only and then goes back.
package nstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

var counter atomic.Uint32

// TB is the part of testing.TB this package uses, so that programs such as
// the demo can make namespaces too. *testing.T and *testing.B satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// Privileged skips t unless the test runs as root with ip(8) available.
func Privileged(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("privileged test: needs root to create network namespaces (run make test as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("privileged test: ip(8) from iproute2 is not installed (make deps)")
	}
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
		t.Skip("privileged test: this kernel has no MPTCP (/proc/sys/net/mptcp missing)")
	}
}

// NS is a network namespace made for one test.
type NS struct {
	Name string
	t    TB
}

// New makes a namespace whose name starts with "mpa-" and contains tag, with
// its loopback up. It skips t when the test is not privileged.
func New(t TB, tag string) *NS {
	t.Helper()
	Privileged(t)

	name := fmt.Sprintf("mpa-%s-%d-%d", tag, os.Getpid(), counter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name, t: t}
	t.Cleanup(func() {
		// Kill what still runs inside before the namespace goes away.
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns.IP("link", "set", "lo", "up")

	return ns
}

// Path is the namespace's bind mount, for netlink.Config.NetNS and the like.
func (ns *NS) Path() string { return "/run/netns/" + ns.Name }

// IP runs `ip -n NAME args...` and fails the test on error. It returns the
// command's standard output.
func (ns *NS) IP(args ...string) string {
	ns.t.Helper()
	out, err := ns.TryIP(args...)
	if err != nil {
		ns.t.Fatalf("ip -n %s %s: %v", ns.Name, strings.Join(args, " "), err)
	}

	return out
}

// TryIP runs `ip -n NAME args...` and returns its output, or an error that
// holds its standard error.
func (ns *NS) TryIP(args ...string) (string, error) {
	return run("ip", append([]string{"-n", ns.Name}, args...)...)
}

// Exec runs a program inside the namespace (`ip netns exec`) and returns its
// standard output, or an error that holds its standard error.
func (ns *NS) Exec(name string, args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Command returns an unstarted command that runs inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Sysctl sets a sysctl inside the namespace, e.g. "net.ipv6.conf.all.forwarding".
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()
	if _, err := ns.Exec("sysctl", "-q", "-w", key+"="+value); err != nil {
		ns.t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns.Name, err)
	}
}

// Veth makes a veth pair between ns (end name, ifindex index) and peer (end
// peerName, ifindex peerIndex), and sets both ends up. Distinct indexes keep
// the kernel from batching carrier changes for a second (linkwatch treats a
// device whose ifindex equals its iflink as non-urgent). An index of 0 lets
// the kernel choose.
func (ns *NS) Veth(name string, index int, peer *NS, peerName string, peerIndex int) {
	ns.t.Helper()
	args := []string{"link", "add", name}
	if index != 0 {
		args = append(args, "index", fmt.Sprint(index))
	}
	args = append(args, "type", "veth", "peer", "name", peerName)
	if peerIndex != 0 {
		args = append(args, "index", fmt.Sprint(peerIndex))
	}
	args = append(args, "netns", peer.Name)
	ns.IP(args...)
	ns.IP("link", "set", name, "up")
	peer.IP("link", "set", peerName, "up")
}

// Do runs fn with the calling goroutine's OS thread inside the namespace,
// then returns the thread to the namespace it came from. Sockets opened in
// fn stay in the namespace after Do returns.
func (ns *NS) Do(fn func() error) error {
	runtime.LockOSThread()

	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening own netns: %w", err)
	}
	defer orig.Close()

	target, err := os.Open(ns.Path())
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening netns %s: %w", ns.Name, err)
	}
	defer target.Close()

	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", ns.Name, err)
	}
	defer func() {
		// A thread that cannot go back stays locked: the runtime then
		// ends it with this goroutine instead of reusing it elsewhere.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()

	return fn()
}

func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}

	return stdout.String(), nil
}
