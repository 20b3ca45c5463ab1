package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// waitLimit bounds every wait for output; reaching it fails the test.
const waitLimit = 20 * time.Second

// A watched is a running monitor whose output lines are collected.
type watched struct {
	name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// watch starts name args and collects its standard output by line.
func watch(t *testing.T, label, name string, args ...string) *watched {
	t.Helper()
	w := &watched{name: label, cmd: exec.Command(name, args...), done: make(chan struct{})}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", label, err)
	}
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.done
	})

	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
		}
	}()

	return w
}

// snapshot returns the lines so far.
func (w *watched) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()

	return append([]string(nil), w.lines...)
}

// has reports whether some line contains every one of parts.
func (w *watched) has(parts ...string) bool {
	for _, l := range w.snapshot() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}

	return false
}

// waitFor polls until cond holds, failing the test at waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit code.
func (w *watched) stop(t *testing.T) int {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	<-w.done
	err := w.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("waiting for %s: %v", w.name, err)
	}

	return 0
}

// probeListener opens and closes an MPTCP listener in ns, which makes the
// kernel send LISTENER_CREATED and LISTENER_CLOSED there; it returns the
// port.
func probeListener(t *testing.T, ns *nstest.NS) int {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)

	var ln net.Listener
	err := ns.Do(func() error {
		var err error
		ln, err = lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatalf("probe listener in %s: %v", ns.Name, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	return port
}

// textEvent is one line of the text monitor: its name and key=value pairs.
type textEvent struct {
	name   string
	fields map[string]string
}

var eventLine = regexp.MustCompile(`^\[ *([A-Z_]+(?: [0-9]+)?)\]((?: [a-z_0-9]+=\S+)*)$`)

func parseEventLine(t *testing.T, line string) textEvent {
	t.Helper()
	m := eventLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a monitor line: %q", line)
	}

	ev := textEvent{name: m[1], fields: map[string]string{}}
	for _, kv := range strings.Fields(m[2]) {
		k, v, _ := strings.Cut(kv, "=")
		ev.fields[k] = v
	}

	return ev
}

// connectionEvents returns the events of the lines that are not about
// listeners, which iproute2 6.1 prints as "[UNKNOWN 15]" and "[UNKNOWN 16]".
func connectionEvents(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "LISTENER_") || strings.HasPrefix(l, "[UNKNOWN 1") ||
			strings.HasPrefix(l, "Timestamp:") {
			continue
		}
		out = append(out, l)
	}

	return out
}

// findEvent returns the first event named name whose fields include want.
func findEvent(evs []textEvent, name string, want map[string]string) (textEvent, bool) {
	for _, ev := range evs {
		if ev.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && ev.fields[k] == v
		}
		if ok {
			return ev, true
		}
	}

	return textEvent{}, false
}

// TestMonitorTwoPaths follows one real two-path MPTCP connection with this
// CLI's monitor and with ip's in both namespaces, and checks the events'
// addresses, ports and ids, ip's format line for line, listener events by
// name, -t and -t -j.
func TestMonitorTwoPaths(t *testing.T) {
	p := nstest.NewPaths(t, "mon")
	p.ConfigureDemo()
	bin := buildCLI(t)
	c, s := p.Client.Name, p.Server.Name

	oursC := watch(t, "ours client", bin, "-n", c, "monitor")
	oursS := watch(t, "ours server", bin, "monitor", "-n", s, "-t")
	jsonC := watch(t, "ours client -t -j", bin, "-t", "-j", "-n", c, "mon")
	ipC := watch(t, "ip client", "ip", "-n", c, "mptcp", "monitor")
	ipS := watch(t, "ip server", "ip", "-n", s, "mptcp", "monitor")

	// Events reach a monitor only once it has joined the group: probe
	// with listeners until every monitor has printed one.
	var portC, portS int
	waitFor(t, "every monitor to see a probe listener", func() bool {
		portC, portS = probeListener(t, p.Client), probeListener(t, p.Server)
		time.Sleep(50 * time.Millisecond)

		return oursC.has("LISTENER_CREATED") && oursS.has("LISTENER_CREATED") &&
			jsonC.has("LISTENER_CREATED") && ipC.has("[UNKNOWN 15]") &&
			ipS.has("[UNKNOWN 15]")
	})
	waitFor(t, "the last probe's listener events", func() bool {
		return oursC.has(fmt.Sprintf("[LISTENER_CREATED] saddr4=127.0.0.1 sport=%d", portC)) &&
			oursC.has(fmt.Sprintf("[LISTENER_CLOSED] saddr4=127.0.0.1 sport=%d", portC)) &&
			oursS.has(fmt.Sprintf("[LISTENER_CREATED] saddr4=127.0.0.1 sport=%d", portS))
	})

	// The sink listens on every IPv4 address: the client joins S2 too.
	sink := listenMPTCP4(t, p.Server, "0.0.0.0:18080")
	stream, err := p.Client.StreamMPTCP("10.200.1.2:18080", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	clientPort := strconv.Itoa(stream.LocalAddr().(*net.TCPAddr).Port)

	t.Cleanup(func() {
		if t.Failed() {
			for _, w := range []*watched{oursC, oursS, jsonC, ipC, ipS} {
				t.Logf("%s printed:\n%s", w.name, strings.Join(w.snapshot(), "\n"))
			}
		}
	})
	waitFor(t, "both subflows on both sides", func() bool {
		return len(grep(oursC.snapshot(), "SF_ESTABLISHED")) == 2 &&
			len(grep(oursS.snapshot(), "SF_ESTABLISHED")) == 2
	})
	if err := stream.Stop(); err != nil {
		t.Errorf("stream: %v", err)
	}
	sink.Close()
	for _, w := range []*watched{oursC, oursS, ipC, ipS} {
		waitFor(t, w.name+" to see the connection close", func() bool {
			return w.has("[        CLOSED] token=")
		})
	}
	waitFor(t, "the JSON monitor to see the connection close", func() bool {
		return jsonC.has(`"event":"CLOSED"`)
	})
	waitFor(t, "the server's listener to close", func() bool {
		return oursS.has("[LISTENER_CLOSED] saddr4=0.0.0.0 sport=18080")
	})

	for _, w := range []*watched{oursC, oursS, jsonC} {
		if code := w.stop(t); code != 0 {
			t.Errorf("%s exited %d on SIGTERM, want 0", w.name, code)
		}
	}
	ipC.stop(t)
	ipS.stop(t)

	checkClientEvents(t, oursC.snapshot(), clientPort)
	checkServerEvents(t, oursS.snapshot(), clientPort)
	if !oursS.has("[LISTENER_CREATED] saddr4=0.0.0.0 sport=18080") {
		t.Errorf("no LISTENER_CREATED for the sink in %q", oursS.snapshot())
	}

	// Line for line as ip 6.1 prints connection events.
	if diff := cmp.Diff(connectionEvents(ipC.snapshot()),
		connectionEvents(oursC.snapshot())); diff != "" {
		t.Errorf("client events differ from ip's (-ip +ours):\n%s", diff)
	}
	if diff := cmp.Diff(connectionEvents(ipS.snapshot()),
		connectionEvents(oursS.snapshot())); diff != "" {
		t.Errorf("server events differ from ip's (-ip +ours):\n%s", diff)
	}

	checkTimestamps(t, oursS.snapshot())
	checkJSONEvents(t, jsonC.snapshot(), connectionEvents(oursC.snapshot()))
}

// listenMPTCP4 starts an IPv4-only MPTCP server in ns that reads and drops
// what it receives; an IPv6 socket would report the subflows' addresses as
// ::ffff:a.b.c.d. Close the listener to stop it.
func listenMPTCP4(t *testing.T, ns *nstest.NS, addr string) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)

	var ln net.Listener
	err := ns.Do(func() error {
		var err error
		ln, err = lc.Listen(context.Background(), "tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { ln.Close() })

	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()

	return ln
}

func grep(lines []string, part string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, part) {
			out = append(out, l)
		}
	}

	return out
}

func parseEvents(t *testing.T, lines []string) []textEvent {
	t.Helper()
	var evs []textEvent
	for _, l := range connectionEvents(lines) {
		evs = append(evs, parseEventLine(t, l))
	}

	return evs
}

// checkClientEvents checks the client's view of the demo connection: the
// initial subflow from C1, the server's announcement of S2, and subflows
// from C2 to S2 (after the announcement) and to S1 (from the client's
// subflow endpoint on c2, ifindex 12).
func checkClientEvents(t *testing.T, lines []string, clientPort string) {
	t.Helper()
	evs := parseEvents(t, lines)
	initial := map[string]string{"remid": "0", "locid": "0",
		"saddr4": "10.200.1.1", "daddr4": "10.200.1.2",
		"sport": clientPort, "dport": "18080"}

	created, ok := findEvent(evs, "CREATED", initial)
	if !ok {
		t.Fatalf("client: no CREATED %v in:\n%s", initial, strings.Join(lines, "\n"))
	}
	token := created.fields["token"]
	initial["token"] = token

	wants := []struct {
		name   string
		fields map[string]string
	}{
		{"ESTABLISHED", initial},
		{"ANNOUNCED", map[string]string{"token": token, "remid": "1",
			"daddr4": "10.200.2.2"}},
		{"SF_ESTABLISHED", map[string]string{"token": token, "remid": "1",
			"locid": "1", "saddr4": "10.200.2.1", "daddr4": "10.200.2.2",
			"dport": "18080", "backup": "0"}},
		{"SF_ESTABLISHED", map[string]string{"token": token, "remid": "0",
			"locid": "1", "saddr4": "10.200.2.1", "daddr4": "10.200.1.2",
			"dport": "18080", "ifindex": strconv.Itoa(nstest.C2Index)}},
		{"CLOSED", map[string]string{"token": token}},
	}
	for _, w := range wants {
		if _, ok := findEvent(evs, w.name, w.fields); !ok {
			t.Errorf("client: no %s %v in:\n%s", w.name, w.fields, strings.Join(lines, "\n"))
		}
	}
}

// checkServerEvents checks the server's view: the connection from C1 and
// both joins from C2.
func checkServerEvents(t *testing.T, lines []string, clientPort string) {
	t.Helper()
	evs := parseEvents(t, lines)
	initial := map[string]string{"remid": "0", "locid": "0",
		"saddr4": "10.200.1.2", "daddr4": "10.200.1.1",
		"sport": "18080", "dport": clientPort}

	created, ok := findEvent(evs, "CREATED", initial)
	if !ok {
		t.Fatalf("server: no CREATED %v in:\n%s", initial, strings.Join(lines, "\n"))
	}
	token := created.fields["token"]

	wants := []map[string]string{
		{"token": token, "locid": "1", "saddr4": "10.200.2.2",
			"daddr4": "10.200.2.1", "sport": "18080"},
		{"token": token, "locid": "0", "remid": "1", "saddr4": "10.200.1.2",
			"daddr4": "10.200.2.1", "sport": "18080"},
	}
	for _, w := range wants {
		if _, ok := findEvent(evs, "SF_ESTABLISHED", w); !ok {
			t.Errorf("server: no SF_ESTABLISHED %v in:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if _, ok := findEvent(evs, "CLOSED", map[string]string{"token": token}); !ok {
		t.Errorf("server: no CLOSED for token %s", token)
	}
}

var timestampText = regexp.MustCompile(
	`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4} \d{1,6} usec$`)

// checkTimestamps checks that -t puts a Timestamp line before each event.
func checkTimestamps(t *testing.T, lines []string) {
	t.Helper()
	if len(lines)%2 != 0 {
		t.Fatalf("-t printed an odd number of lines:\n%s", strings.Join(lines, "\n"))
	}
	for i := 0; i < len(lines); i += 2 {
		ts, ok := strings.CutPrefix(lines[i], "Timestamp: ")
		if !ok || !timestampText.MatchString(ts) {
			t.Errorf("line %d is no timestamp: %q", i, lines[i])
		}
		if !strings.HasPrefix(lines[i+1], "[") {
			t.Errorf("line %d is no event: %q", i+1, lines[i+1])
		}
	}
}

// checkJSONEvents checks the -t -j monitor against the text one: one
// object per line, a timestamp in each, and the same events with the
// same values.
func checkJSONEvents(t *testing.T, lines, text []string) {
	t.Helper()
	var got []string
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("-j line is no JSON object: %v: %q", err, l)
		}
		ts, _ := obj["timestamp"].(string)
		if !timestampText.MatchString(ts) {
			t.Errorf("-t -j line has no timestamp: %q", l)
		}
		if n, _ := obj["event"].(string); strings.HasPrefix(n, "LISTENER_") {
			continue
		}
		if obj["ifindex"] != nil && obj["dev"] != nstest.C2Name {
			t.Errorf("-j event on ifindex %v names dev %v, want %s",
				obj["ifindex"], obj["dev"], nstest.C2Name)
		}
		got = append(got, jsonAsText(obj))
	}

	if diff := cmp.Diff(text, got); diff != "" {
		t.Errorf("-j events differ from the text monitor's (-text +json):\n%s", diff)
	}
}

// jsonAsText rewrites a -j event in the text monitor's format, so the two
// can be compared.
func jsonAsText(obj map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%14s]", obj["event"])
	if tok, ok := obj["token"].(string); ok {
		v, _ := strconv.ParseUint(strings.TrimPrefix(tok, "0x"), 16, 32)
		fmt.Fprintf(&b, " token=%08x", v)
	}
	for _, k := range []string{"remid", "locid", "saddr4", "daddr4", "saddr6",
		"daddr6", "sport", "dport", "backup", "error"} {
		if v, ok := obj[k]; ok {
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
	}
	flags := 0
	if obj["server_side"] == true {
		flags |= 2
	}
	if obj["deny_join_id0"] == true {
		flags |= 1
	}
	if flags != 0 {
		fmt.Fprintf(&b, " flags=%x", flags)
	}
	if v, ok := obj["ifindex"]; ok {
		fmt.Fprintf(&b, " ifindex=%v", v)
	}

	return b.String()
}
