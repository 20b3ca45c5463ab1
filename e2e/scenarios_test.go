package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The scenarios of docs/scenarios.md: each comes from a failure users of
// today's MPTCP managers reported, and each runs here against the real
// kernel with the daemon on its embedded default policy (plus type
// overrides, since a veth has no radio).

const (
	eth0S1  = "192.0.2.10 subflow dev eth0"
	wlanS1  = "198.51.100.20 subflow backup dev wlan0"
	wlanS2  = "198.51.100.20 subflow dev wlan0"
	wlanSig = "198.51.100.20 signal dev wlan0"
)

// laptop builds S1: eth0 192.0.2.10/24 and wlan0 198.51.100.20/24, each
// with a default route, and starts the daemon.
func laptop(t *testing.T, args ...string) *topo {
	tp := newTopo(t)
	tp.link("eth0")
	tp.link("wlan0")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.addr("wlan0", "198.51.100.20/24", true)
	rules := tp.rules("rules.toml", typeOverrides)
	tp.start(append([]string{"--rules", rules}, args...)...)
	tp.expect("S1 docked", "4/2", eth0S1, wlanS1)

	return tp
}

// S1 Laptop, docked; S2 undock: the cable is pulled, the address stays;
// S3 redock.
func TestS1S2S3DockUndockRedock(t *testing.T) {
	tp := laptop(t)
	tp.stable("S1 docked", 300*time.Millisecond)
	wifiID := tp.ids()[wlanS1]

	tp.carrier("eth0", false)
	tp.expect("S2 undocked", "3/2", wlanS2)
	if got := tp.ids()[wlanS2]; got != wifiID {
		t.Errorf("S2: Wi-Fi endpoint id changed from %s to %s: backup must be cleared in place", wifiID, got)
	}

	tp.carrier("eth0", true)
	tp.expect("S3 redocked", "4/2", eth0S1, wlanS1)
	if got := tp.ids()[wlanS1]; got != wifiID {
		t.Errorf("S3: Wi-Fi endpoint id changed from %s to %s", wifiID, got)
	}
}

// S4 Roaming between Wi-Fi networks: the old address goes, a new one
// arrives with its own default route, ten times.
func TestS4Roaming(t *testing.T) {
	tp := newTopo(t)
	tp.link("wlan0")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	roam(tp, 10, "subflow", "3/2")
	if log := tp.d.log.String(); strings.Contains(log, "too many addresses") {
		t.Errorf("S4: the daemon ran into the endpoint cap:\n%s", log)
	}
}

// S4 with a rule that announces Wi-Fi addresses: signal endpoints the
// daemon made are collected like any other when their address goes (only
// foreign signal endpoints may stand for an address on no link).
func TestS4RoamingSignal(t *testing.T) {
	tp := newTopo(t)
	tp.link("wlan0")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides+`
[[rule]]
name = "wifi-signal"
when = 'link.type == "wifi"'
flags = ["signal"]
`))

	roam(tp, 4, "signal", "2/0")
	if log := tp.d.log.String(); strings.Contains(log, "too many addresses") {
		t.Errorf("S4 signal: the daemon ran into the endpoint cap:\n%s", log)
	}
}

// roam moves wlan0 between two networks steps times, as after joining
// another Wi-Fi: the old address goes (taking its default route along), the
// new one comes with a default route of its own. After each step the table
// must hold the current address alone, with flags, and the limits.
func roam(tp *topo, steps int, flags, limits string) {
	tp.t.Helper()
	nets := []string{"198.51.100.20/24", "203.0.113.30/24"}
	for i := range steps {
		if i > 0 {
			tp.host.IP("addr", "del", nets[(i-1)%2], "dev", "wlan0")
		}
		tp.addr("wlan0", nets[i%2], true)
		ip, _, _ := strings.Cut(nets[i%2], "/")
		tp.expect(fmt.Sprintf("S4 step %d (%s)", i, ip), limits,
			ip+" "+flags+" dev wlan0")
	}
}

// S5 USB adapter unplugged and replugged: the link is deleted, and a new
// one with a new ifindex appears.
func TestS5Replug(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth1")
	tp.link("wlan0")
	tp.addr("eth1", "192.0.2.50/24", true)
	tp.addr("wlan0", "198.51.100.20/24", true)
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))
	tp.expect("S5 plugged", "4/2", "192.0.2.50 subflow dev eth1", wlanS1)

	tp.host.IP("link", "del", "eth1")
	tp.expect("S5 unplugged", "3/2", wlanS2)

	idx := tp.link("eth1")
	tp.addr("eth1", "192.0.2.51/24", true)
	tp.expect("S5 replugged", "4/2", "192.0.2.51 subflow dev eth1", wlanS1)
	// `dev eth1` above already names the new link: iproute2 resolves the
	// stored ifindex, and the old one would print as "dev ifN".
	if !strings.Contains(tp.host.IP("link", "show", "eth1"), fmt.Sprintf("%d: eth1", idx)) {
		t.Fatalf("S5: eth1 does not have the new ifindex %d", idx)
	}
}

// S6 Address hygiene: link-local, ULA, temporary and deprecated addresses
// get no endpoint.
func TestS6Hygiene(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth0")
	tp.host.Sysctl("net.ipv6.conf.eth0.use_tempaddr", "2")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.host.IP("addr", "add", "fe80::10/64", "dev", "eth0", "nodad")
	tp.host.IP("addr", "add", "fd00:1::10/64", "dev", "eth0", "nodad")
	tp.host.IP("addr", "add", "2001:db8:1::10/64", "dev", "eth0", "mngtmpaddr")
	tp.host.IP("addr", "add", "2001:db8:1::dead/64", "dev", "eth0", "preferred_lft", "0", "nodad")
	tp.net.IP("addr", "add", "2001:db8:1::1/64", "dev", "n-eth0", "nodad")
	tp.defaultRoute("eth0", "2001:db8:1::1")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	tp.expect("S6", "4/2", eth0S1, "2001:db8:1::10 subflow dev eth0")
	if out := tp.host.IP("-6", "addr", "show", "dev", "eth0", "temporary"); !strings.Contains(out, "temporary") {
		t.Fatalf("S6: the kernel made no temporary address, so the scenario proves nothing:\n%s", out)
	}
	tp.stable("S6", 500*time.Millisecond)
}

// S7 A router's LAN side: a bridge and a new veth without default routes
// get nothing.
func TestS7RouterLAN(t *testing.T) {
	tp := newTopo(t)
	tp.host.IP("link", "add", "br-lan", "type", "bridge")
	tp.link("lan1")
	tp.host.IP("link", "set", "lan1", "master", "br-lan")
	tp.host.IP("link", "set", "br-lan", "up")
	tp.host.IP("addr", "add", "192.168.50.1/24", "dev", "br-lan")
	tp.link("wan0")
	tp.addr("wan0", "203.0.113.2/30", true)
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	want := "203.0.113.2 subflow dev wan0"
	tp.expect("S7", "3/2", want)

	tp.link("veth9")
	tp.addr("veth9", "198.18.0.2/24", false)
	tp.stable("S7 new veth", 500*time.Millisecond)
	tp.expect("S7 new veth", "3/2", want)
}

// S8 The default route comes after the address, and goes again.
func TestS8LateDefaultRoute(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth1")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	tp.addr("eth1", "203.0.113.7/24", false)
	tp.expect("S8 no route", "2/0")
	time.Sleep(500 * time.Millisecond)
	tp.expect("S8 no route", "2/0")

	tp.defaultRoute("eth1", "203.0.113.1")
	tp.expect("S8 route", "3/2", "203.0.113.7 subflow dev eth1")

	tp.host.IP("route", "del", "default", "dev", "eth1")
	tp.expect("S8 route withdrawn", "2/0")
}

// S9 IPv6 duplicate address detection: no endpoint while tentative, one
// once usable, none ever after a DAD failure.
func TestS9DAD(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth0")
	tp.link("eth1")
	for _, l := range []string{"eth0", "eth1"} {
		tp.host.Sysctl("net.ipv6.conf."+l+".accept_dad", "1")
		tp.host.Sysctl("net.ipv6.conf."+l+".dad_transmits", "3")
	}
	tp.net.IP("addr", "add", "2001:db8:2::1/64", "dev", "n-eth0", "nodad")
	tp.net.IP("addr", "add", "2001:db8:3::1/64", "dev", "n-eth1", "nodad")
	// NET already holds 2001:db8:3::7: DAD on eth1 must fail.
	tp.net.IP("addr", "add", "2001:db8:3::7/64", "dev", "n-eth1", "nodad")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	tp.host.IP("addr", "add", "2001:db8:2::7/64", "dev", "eth0")
	tp.host.IP("addr", "add", "2001:db8:3::7/64", "dev", "eth1")
	tp.defaultRoute("eth0", "2001:db8:2::1")
	tp.defaultRoute("eth1", "2001:db8:3::1")

	// While the address is tentative the table must stay empty. The table
	// is read first and the address checked after: DAD may end between
	// the two reads, and the daemon reacts within a millisecond.
	for {
		eps, _ := tp.table()
		tentative := strings.Contains(tp.host.IP("-6", "addr", "show", "dev", "eth0"), "tentative")
		if !tentative {
			break
		}
		if len(eps) != 0 {
			t.Fatalf("S9: endpoint made for a tentative address: %v", eps)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tp.expect("S9 usable", "3/2", "2001:db8:2::7 subflow dev eth0")

	if out := tp.host.IP("-6", "addr", "show", "dev", "eth1"); !strings.Contains(out, "dadfailed") {
		t.Fatalf("S9: DAD did not fail on eth1, so the scenario proves nothing:\n%s", out)
	}
	tp.stable("S9 DAD failed", 500*time.Millisecond)
	tp.expect("S9 DAD failed", "3/2", "2001:db8:2::7 subflow dev eth0")
}

// S10 An interface the user forbids: a rule skips eth0 by name, the
// embedded rules follow; eth0 is still a usable uplink.
func TestS10Forbidden(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth0")
	tp.link("wlan0")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.addr("wlan0", "198.51.100.20/24", true)
	rules := tp.rules("rules.toml", typeOverrides+`
[[rule]]
name = "no-eth0"
when = 'link.name == "eth0"'
skip = true
`)
	tp.start("--rules", rules)
	tp.expect("S10", "3/2", wlanS1)

	tp.host.IP("addr", "add", "192.0.2.11/24", "dev", "eth0")
	tp.stable("S10 second address", 500*time.Millisecond)
	tp.expect("S10 second address", "3/2", wlanS1)
}

// S11 Leaks from an earlier manager, found at start: dead endpoints are
// collected, a foreign signal endpoint is left alone.
func TestS11Leaks(t *testing.T) {
	tp := newTopo(t)
	tp.link("eth0")
	tp.addr("eth0", "192.0.2.10/24", true)
	tp.host.IP("mptcp", "endpoint", "add", "10.9.9.9", "subflow")
	tp.host.IP("mptcp", "endpoint", "add", "192.0.2.99", "dev", "if99", "subflow")
	tp.host.IP("mptcp", "endpoint", "add", "203.0.113.200", "signal")
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	tp.expect("S11", "5/2", eth0S1, "203.0.113.200 signal")
}

// S12 Changing the policy while running: a reload that gives Wi-Fi
// signal, a reload of the same file, and a broken reload.
func TestS12Reload(t *testing.T) {
	tp := laptop(t)
	rules := tp.rules("rules.toml", typeOverrides+`
[[rule]]
name = "wifi-signal"
when = 'link.type == "wifi"'
flags = ["signal"]
`)
	if out, err := tp.host.Exec(binary(t), "reload", "--socket", tp.d.socket); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	tp.expect("S12 reload", "5/2", eth0S1, wlanSig)

	ids := tp.ids()
	logLen := len(tp.d.log.String())
	tp.d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload after SIGHUP in the daemon's log", func() bool {
		return strings.Contains(tp.d.log.String()[logLen:], "msg=\"rules reloaded\"")
	}, nil)
	tp.stable("S12 same file", 500*time.Millisecond)
	if diff := tp.ids(); fmt.Sprint(diff) != fmt.Sprint(ids) {
		t.Fatalf("S12: a reload of the same file changed ids: %v -> %v", ids, diff)
	}
	if tail := tp.d.log.String()[logLen:]; strings.Contains(tail, "msg=reconciled") {
		t.Fatalf("S12: a reload of the same file made kernel operations:\n%s", tail)
	}

	broken := typeOverrides + `
[[rule]]
name = "broken"
when = 'link.typo == "wifi"'
flags = ["subflow"]
`
	if err := os.WriteFile(rules, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := tp.host.Exec(binary(t), "reload", "--socket", tp.d.socket)
	if err == nil {
		t.Fatalf("reload of a broken file succeeded:\n%s", out)
	}
	tp.stable("S12 broken reload", 300*time.Millisecond)
	tp.expect("S12 broken reload", "5/2", eth0S1, wlanSig)
	st := fmt.Sprint(tp.status())
	for _, want := range []string{"rules.toml", "broken", "typo"} {
		if !strings.Contains(st, want) {
			t.Errorf("S12: status does not show the rules error (missing %q):\n%s", want, st)
		}
	}
	// The log names the file, the rule and the position in its
	// expression (line 1, column 6: "typo" is not a field of link).
	log := tp.d.log.String()
	for _, want := range []string{"rules.toml", `rule \"broken\"`, "column 6", "typo"} {
		if !strings.Contains(log, want) {
			t.Errorf("S12: the log does not say %q about the broken file:\n%s", want, log)
		}
	}
}

// S13 Someone else flushes the table: the periodic resync restores it.
func TestS13ForeignFlush(t *testing.T) {
	tp := laptop(t, "--resync", "1s")
	tp.host.IP("mptcp", "endpoint", "flush")
	tp.expect("S13 restored", "4/2", eth0S1, wlanS1)
}

// S14 The daemon is killed and started again: nothing to do, so nothing
// is done.
func TestS14Restart(t *testing.T) {
	tp := laptop(t)
	ids := tp.ids()
	tp.d.stop(syscall.SIGKILL)

	tp.start("--rules", tp.rules("rules.toml", typeOverrides))
	tp.stable("S14 restarted", time.Second)
	tp.expect("S14 restarted", "4/2", eth0S1, wlanS1)
	if got := tp.ids(); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("S14: ids changed across a restart: %v -> %v", ids, got)
	}
	if log := tp.d.log.String(); strings.Contains(log, "msg=reconciled") {
		t.Fatalf("S14: the restarted daemon made kernel operations:\n%s", log)
	}
}

// S15 More eligible addresses than the kernel's 8 slots.
func TestS15Cap(t *testing.T) {
	tp := newTopo(t)
	for i := range 10 {
		l := fmt.Sprintf("eth%d", i)
		tp.link(l)
		tp.addr(l, fmt.Sprintf("198.18.%d.2/24", i), true)
	}
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	var eps []string
	deadline := time.Now().Add(15 * time.Second)
	for eps, _ = tp.table(); len(eps) != 8 && time.Now().Before(deadline); eps, _ = tp.table() {
		time.Sleep(20 * time.Millisecond)
	}
	if _, l := tp.table(); len(eps) != 8 || l != "8/2" {
		t.Fatalf("S15: want 8 endpoints and limits 8/2, got %d %v and %s", len(eps), eps, l)
	}
	// All ten links are of one type with no backup, so the documented
	// order falls to the route metric: eth0..eth7 (metrics 100..107) win.
	var out []string
	for i := range 10 {
		ip := fmt.Sprintf("198.18.%d.2", i)
		in := strings.Contains(strings.Join(eps, "\n"), ip+" ")
		if in != (i < 8) {
			t.Errorf("S15: %s chosen=%v, want the eight lowest metrics: %v", ip, in, eps)
		}
		if !in {
			out = append(out, ip)
		}
	}
	if len(out) != 2 {
		t.Fatalf("S15: want two left-out addresses, got %v", out)
	}
	left := map[string]string{}
	los, _ := tp.status()["left_out"].([]any)
	for _, lo := range los {
		m, _ := lo.(map[string]any)
		left[fmt.Sprint(m["addr"])] = fmt.Sprint(m["reason"])
	}
	for _, ip := range out {
		if !strings.Contains(left[ip], "slots") {
			t.Errorf("S15: status does not name left-out address %s with its reason: %v", ip, left)
		}
	}
	if log := tp.d.log.String(); strings.Contains(log, "too many addresses") {
		t.Errorf("S15: the daemon ran into the kernel's cap:\n%s", log)
	}

	// One of the eight goes away: a left-out address takes its slot.
	gone := strings.Fields(eps[0])
	tp.host.IP("addr", "flush", "dev", gone[len(gone)-1])
	deadline = time.Now().Add(15 * time.Second)
	for {
		eps, _ = tp.table()
		joined := strings.Join(eps, "\n")
		if len(eps) == 8 && !strings.Contains(joined, gone[0]+" ") &&
			(strings.Contains(joined, out[0]+" ") || strings.Contains(joined, out[1]+" ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("S15: no left-out address took the freed slot: %v", eps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// S16 Phone: Wi-Fi and cellular.
func TestS16Phone(t *testing.T) {
	tp := newTopo(t)
	tp.link("wlan0")
	tp.link("wwan0")
	tp.addr("wlan0", "198.51.100.20/24", true)
	tp.addr("wwan0", "100.64.0.2/30", true)
	tp.start("--rules", tp.rules("rules.toml", typeOverrides))

	cell := "100.64.0.2 subflow backup dev wwan0"
	tp.expect("S16", "4/2", wlanS2, cell)
	tp.carrier("wlan0", false)
	tp.expect("S16 Wi-Fi lost", "3/2", cell)
	tp.carrier("wlan0", true)
	tp.expect("S16 Wi-Fi back", "4/2", wlanS2, cell)
}
