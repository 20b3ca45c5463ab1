package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// lockedBuffer is the daemon's log, written by exec's copying goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.String()
}

// waitUntil polls cond until it holds, failing after a bound; the bound is
// a limit on a condition, not a timing assertion.
func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last seen:\n%s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunSmoke runs the daemon in a namespace of its own: an address with
// a default route gets an endpoint, which goes with the address; status
// answers over the socket; SIGTERM leaves the table alone.
func TestRunSmoke(t *testing.T) {
	host := nstest.New(t, "run")
	net := nstest.New(t, "runnet")
	host.Veth("eth0", 10, net, "n-eth0", 1010)
	net.IP("addr", "add", "192.0.2.1/24", "dev", "n-eth0")

	bin := buildCLI(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	log := &lockedBuffer{}
	cmd := host.Command(bin, "run", "--state-dir", filepath.Join(dir, "state"),
		"--socket", sock, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})

	endpoints := func() string {
		return host.IP("mptcp", "endpoint", "show")
	}
	host.IP("addr", "add", "192.0.2.10/24", "dev", "eth0")
	host.IP("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	waitUntil(t, "endpoint for 192.0.2.10", func() (bool, string) {
		s := endpoints()
		return strings.Contains(s, "192.0.2.10 id 1 subflow dev eth0"), s
	})

	var st engine.Status
	waitUntil(t, "status over the socket", func() (bool, string) {
		out, err := host.Exec(bin, "status", "--json", "--socket", sock)
		if err != nil {
			return false, err.Error()
		}
		st = engine.Status{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return false, out
		}
		return len(st.Endpoints) == 1 && st.Endpoints[0].Ours, out
	})
	if st.Limits.Subflows != 3 || st.Limits.AddAddrAccepted != 2 {
		t.Errorf("unexpected limits in the status: %+v", st.Limits)
	}
	out, err := host.Exec(bin, "status", "--socket", sock)
	line := "192.0.2.10/24: endpoint id 1 subflow (rule other)"
	if err != nil || !strings.Contains(out, line) {
		t.Errorf("unexpected status report (err %v):\n%s", err, out)
	}

	host.IP("addr", "del", "192.0.2.10/24", "dev", "eth0")
	waitUntil(t, "endpoint gone with its address", func() (bool, string) {
		s := endpoints()
		return s == "", s
	})

	// SIGTERM leaves endpoints in place.
	host.IP("addr", "add", "192.0.2.11/24", "dev", "eth0")
	host.IP("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	waitUntil(t, "endpoint for 192.0.2.11", func() (bool, string) {
		s := endpoints()
		return strings.Contains(s, "192.0.2.11"), s
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("daemon exited with %v", err)
	}
	done <- nil
	if s := endpoints(); !strings.Contains(s, "192.0.2.11") {
		t.Errorf("SIGTERM removed the endpoints: %q", s)
	}
	if _, err := exec.LookPath("ss"); err == nil {
		if out, _ := host.Exec("ss", "-xl"); strings.Contains(out, sock) {
			t.Errorf("control socket still listening after exit")
		}
	}
}

// TestRunRemoveOnExit: with --remove-on-exit our endpoints go at SIGTERM,
// and a foreign one stays.
func TestRunRemoveOnExit(t *testing.T) {
	host := nstest.New(t, "rmexit")
	net := nstest.New(t, "rmexitnet")
	host.Veth("eth0", 10, net, "n-eth0", 1010)
	host.IP("addr", "add", "192.0.2.10/24", "dev", "eth0")
	host.IP("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	host.IP("mptcp", "endpoint", "add", "203.0.113.200", "signal")

	bin := buildCLI(t)
	dir := t.TempDir()
	log := &lockedBuffer{}
	cmd := host.Command(bin, "run", "--state-dir", dir, "--socket",
		filepath.Join(dir, "s"), "--remove-on-exit")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "endpoint for 192.0.2.10", func() (bool, string) {
		s := host.IP("mptcp", "endpoint", "show")
		return strings.Contains(s, "192.0.2.10"), s
	})

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exited with %v:\n%s", err, log.String())
	}
	if s := host.IP("mptcp", "endpoint", "show"); s != "203.0.113.200 id 1 signal \n" {
		t.Errorf("unexpected table after exit: %q\n%s", s, log.String())
	}
}

// TestPlan: plan prints what a reconcile would do and changes nothing.
func TestPlan(t *testing.T) {
	host := nstest.New(t, "plan")
	net := nstest.New(t, "plannet")
	host.Veth("eth0", 10, net, "n-eth0", 1010)
	host.IP("addr", "add", "192.0.2.10/24", "dev", "eth0")
	host.IP("route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	host.IP("mptcp", "endpoint", "add", "10.9.9.9", "subflow")
	before := host.IP("mptcp", "endpoint", "show")

	bin := buildCLI(t)
	out, err := host.Exec(bin, "plan", "--state-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"plan:\n",
		"  add 192.0.2.10 subflow dev eth0 (rule other)\n",
		"  delete 10.9.9.9 id 1 subflow (address gone)\n",
		"    192.0.2.10/24: wants subflow (rule other), not in the table\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if after := host.IP("mptcp", "endpoint", "show"); after != before {
		t.Errorf("plan changed the table: %q -> %q", before, after)
	}

	out, err = host.Exec(bin, "plan", "--json", "--state-dir", t.TempDir())
	var st engine.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil ||
		len(st.LastOps) != 3 {
		t.Errorf("unexpected plan JSON (err %v):\n%s", err, out)
	}
}
