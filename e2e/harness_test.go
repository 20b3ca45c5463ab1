package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds mptcp-autopm once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mpa-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mptcp-autopm")
		cmd := exec.Command("go", "build", "-o", binPath,
			"github.com/mptcp-autopm/mptcp-autopm/cmd/mptcp-autopm")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}

	return binPath
}

// A topo is the scenarios' setting: namespace host is the device under
// test; each of its links is a veth whose far end sits in namespace net,
// which holds the gateways.
type topo struct {
	t      *testing.T
	host   *nstest.NS
	net    *nstest.NS
	index  int // next host-side ifindex
	metric int // next default-route metric
	links  map[string]int
	dir    string
	d      *daemon
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	tp := &topo{
		t:      t,
		host:   nstest.New(t, "host"),
		net:    nstest.New(t, "net"),
		index:  10,
		metric: 100,
		links:  map[string]int{},
		dir:    t.TempDir(),
	}
	// Gateways answer neighbour discovery at once.
	tp.net.Sysctl("net.ipv6.conf.all.accept_dad", "0")
	tp.net.Sysctl("net.ipv6.conf.default.accept_dad", "0")

	return tp
}

// link makes host link name with the given ifindex (0 picks the next free
// one) and its far end "n-<name>" in net.
func (tp *topo) link(name string) int {
	tp.t.Helper()
	idx := tp.index
	tp.index++
	tp.host.Veth(name, idx, tp.net, peerName(name), idx+1000)
	tp.links[name] = idx

	return idx
}

func peerName(name string) string { return "n-" + name }

// addr gives link a global address, its gateway (the first host of the
// prefix) on the far end, and a default route through it with a metric of
// its own, unless noRoute.
func (tp *topo) addr(link, cidr string, route bool) {
	tp.t.Helper()
	gw, gwCIDR := gateway(tp.t, cidr)
	nodad := []string{}
	if strings.Contains(cidr, ":") {
		nodad = []string{"nodad"}
	}
	tp.host.IP(append([]string{"addr", "add", cidr, "dev", link}, nodad...)...)
	tp.net.TryIP("addr", "add", gwCIDR, "dev", peerName(link), "nodad")
	if route {
		tp.defaultRoute(link, gw)
	}
}

func (tp *topo) defaultRoute(link, gw string) {
	tp.t.Helper()
	fam := "-4"
	if strings.Contains(gw, ":") {
		fam = "-6"
	}
	tp.host.IP(fam, "route", "add", "default", "via", gw, "dev", link,
		"metric", fmt.Sprint(tp.metric))
	tp.metric++
}

// gateway returns the first host address of cidr's prefix, bare and with
// the prefix length.
func gateway(t *testing.T, cidr string) (string, string) {
	t.Helper()
	ip, plen, _ := strings.Cut(cidr, "/")
	if strings.Contains(ip, ":") {
		i := strings.LastIndex(ip, ":")
		return ip[:i+1] + "1", ip[:i+1] + "1/" + plen
	}
	i := strings.LastIndex(ip, ".")

	return ip[:i+1] + "1", ip[:i+1] + "1/" + plen
}

// carrier sets the far end of link up or down, so link gains or loses
// carrier while keeping its addresses.
func (tp *topo) carrier(link string, on bool) {
	tp.t.Helper()
	state := "down"
	if on {
		state = "up"
	}
	tp.net.IP("link", "set", peerName(link), state)
}

// rules writes a rules file in the test's directory and returns its path.
func (tp *topo) rules(name, text string) string {
	tp.t.Helper()
	p := filepath.Join(tp.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tp.t.Fatal(err)
	}

	return p
}

// typeOverrides is the only change the scenarios make to the defaults: a
// veth has no radio, so wlan* and wwan* are declared Wi-Fi and cellular.
const typeOverrides = `
[[settings.type]]
match = "wlan*"
type = "wifi"

[[settings.type]]
match = "wwan*"
type = "wwan"
`

// daemon is one mptcp-autopm run process inside host.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	socket string
	log    *syncBuffer
	done   chan error
}

// start runs the daemon in host with the given extra arguments.
func (tp *topo) start(args ...string) *daemon {
	tp.t.Helper()
	sock := filepath.Join(tp.dir, "mptcp-autopm.sock")
	full := append([]string{"run",
		"--state-dir", filepath.Join(tp.dir, "state"),
		"--socket", sock,
		"--log-level", "debug"}, args...)
	cmd := tp.host.Command(binary(tp.t), full...)
	d := &daemon{t: tp.t, cmd: cmd, socket: sock, log: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		tp.t.Fatalf("starting daemon: %v", err)
	}
	go func() { d.done <- cmd.Wait() }()
	tp.d = d
	tp.t.Cleanup(func() {
		d.stop(syscall.SIGTERM)
		if tp.t.Failed() {
			tp.t.Logf("daemon log:\n%s", d.log.String())
		}
	})

	return d
}

// stop signals the daemon and waits for it to exit.
func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// status asks the daemon for its status as JSON.
func (tp *topo) status() map[string]any {
	tp.t.Helper()
	out, err := exec.Command(binary(tp.t), "status", "--json",
		"--socket", tp.d.socket).Output()
	if err != nil {
		tp.t.Fatalf("status: %v\n%s", err, out)
	}
	var st map[string]any
	if err := json.Unmarshal(out, &st); err != nil {
		tp.t.Fatalf("status JSON: %v\n%s", err, out)
	}

	return st
}

var idRE = regexp.MustCompile(` id \d+`)

// table is the host's endpoint table as `ip mptcp endpoint show` prints it
// minus the ids, sorted, and its limits as "s/a".
func (tp *topo) table() ([]string, string) {
	tp.t.Helper()
	var eps []string
	sc := bufio.NewScanner(strings.NewReader(tp.host.IP("mptcp", "endpoint", "show")))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			eps = append(eps, idRE.ReplaceAllString(line, ""))
		}
	}
	slices.Sort(eps)

	var a, s int
	fmt.Sscanf(tp.host.IP("mptcp", "limits", "show"), "add_addr_accepted %d subflows %d", &a, &s)

	return eps, fmt.Sprintf("%d/%d", s, a)
}

// ids maps each endpoint's line (minus the id) to its id.
func (tp *topo) ids() map[string]string {
	tp.t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(tp.host.IP("mptcp", "endpoint", "show"), "\n") {
		line = strings.TrimSpace(line)
		if id := idRE.FindString(line); id != "" {
			m[idRE.ReplaceAllString(line, "")] = strings.TrimPrefix(id, " id ")
		}
	}

	return m
}

// expect waits until the host's table and limits are want and limits, and
// fails with the difference and the daemon's log if they never are. The
// wait is a bound on a condition, not a timing assertion.
func (tp *topo) expect(step string, limits string, want ...string) {
	tp.t.Helper()
	slices.Sort(want)
	if want == nil {
		want = []string{}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, l := tp.table()
		if got == nil {
			got = []string{}
		}
		if cmp.Equal(want, got) && l == limits {
			return
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("%s: unexpected endpoints (-want +got):\n%s\nlimits: want %s, got %s",
				step, cmp.Diff(want, got), limits, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stable checks that the table stays as it is for a while: the daemon must
// not churn once it has reached the state the rules ask for.
func (tp *topo) stable(step string, d time.Duration) {
	tp.t.Helper()
	before := tp.ids()
	_, lb := tp.table()
	time.Sleep(d)
	after := tp.ids()
	_, la := tp.table()
	if diff := cmp.Diff(before, after); diff != "" || lb != la {
		tp.t.Fatalf("%s: table changed while nothing happened (-before +after):\n%s\nlimits %s -> %s",
			step, diff, lb, la)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.b.String()
}
