package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// The privileged tests below run the real binary in test namespaces and
// check every sub-command against iproute2 both ways: what this CLI
// changes, `ip mptcp` shows as it would have after its own command, and
// what ip changes, this CLI prints as ip does.

// buildCLI builds the binary once per test into t.TempDir.
func buildCLI(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}

	bin := filepath.Join(t.TempDir(), "mptcp-autopm")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	return bin
}

// result is what a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// run runs name with args and returns its output and exit code.
func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}

	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// cliEnv is a namespace with a veth pair (v1 index 10 holding 10.9.1.1,
// v2 index 11) and the binary under test.
type cliEnv struct {
	t   *testing.T
	bin string
	ns  *nstest.NS
}

func newCLIEnv(t *testing.T) *cliEnv {
	ns := nstest.New(t, "cli")
	ns.IP("link", "add", "v1", "index", "10", "type", "veth",
		"peer", "name", "v2", "index", "11")
	ns.IP("addr", "add", "10.9.1.1/24", "dev", "v1")
	ns.IP("addr", "add", "2001:db8::1/64", "dev", "v1", "nodad")
	ns.IP("link", "set", "v1", "up")
	ns.IP("link", "set", "v2", "up")

	return &cliEnv{t: t, bin: buildCLI(t), ns: ns}
}

// ours runs the CLI with -n and args (a command line split at spaces).
func (e *cliEnv) ours(args string) result {
	e.t.Helper()
	return run(e.t, e.bin, append([]string{"-n", e.ns.Name}, strings.Fields(args)...)...)
}

// ip runs `ip [-j] -n NS mptcp args`.
func (e *cliEnv) ip(args string, opts ...string) result {
	e.t.Helper()
	a := append(opts, "-n", e.ns.Name, "mptcp")

	return run(e.t, "ip", append(a, strings.Fields(args)...)...)
}

// must runs the CLI and fails the test unless it exits 0.
func (e *cliEnv) must(args string) result {
	e.t.Helper()
	r := e.ours(args)
	if r.code != 0 {
		e.t.Fatalf("mptcp-autopm %s: exit %d: %s", args, r.code, r.stderr)
	}

	return r
}

// mustIP runs ip and fails the test unless it exits 0.
func (e *cliEnv) mustIP(args string, opts ...string) string {
	e.t.Helper()
	r := e.ip(args, opts...)
	if r.code != 0 {
		e.t.Fatalf("ip mptcp %s: exit %d: %s", args, r.code, r.stderr)
	}

	return r.stdout
}

// sameJSON fails unless a and b hold equal JSON values.
func sameJSON(t *testing.T, what, want, got string) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: ip printed no JSON: %v: %q", what, err, want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: we printed no JSON: %v: %q", what, err, got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s: unexpected JSON (-ip +ours):\n%s", what, diff)
	}
}

// TestEndpointAddAgainstIP adds each endpoint with this CLI and with ip in
// turn, and checks that the kernel ends up with the same table, which both
// print the same way, as text and as JSON.
func TestEndpointAddAgainstIP(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name string
		args string // after "endpoint add"
		want string // ip mptcp endpoint show
	}{
		{"dev id subflow backup", "10.9.1.1 dev v1 id 5 subflow backup",
			"10.9.1.1 id 5 subflow backup dev v1 \n"},
		{"signal port", "10.9.1.1 port 20000 signal",
			"10.9.1.1 port 20000 id 1 signal \n"},
		{"signal port backup, id", "10.9.1.1 port 20001 id 9 signal backup",
			"10.9.1.1 port 20001 id 9 signal backup \n"},
		{"ipv6 subflow fullmesh", "2001:db8::1 id 20 subflow fullmesh",
			"2001:db8::1 id 20 subflow fullmesh \n"},
		{"no flags", "10.9.9.9", "10.9.9.9 id 1 \n"},
		{"id 0 lets the kernel choose", "10.9.9.10 id 0 subflow",
			"10.9.9.10 id 1 subflow \n"},
		{"vanished device by index", "10.9.9.11 dev if77 subflow",
			"10.9.9.11 id 1 subflow dev if77 \n"},
		{"abbreviated keywords", "10.9.9.12 i 7 d v1 nobackup signal",
			"10.9.9.12 id 7 signal dev v1 \n"},
		{"short address form", "10.9.9 subflow", "10.9.9.0 id 1 subflow \n"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.mustIP("endpoint flush")
			e.must("endpoint add " + tt.args)
			byUs := e.mustIP("endpoint show")
			if diff := cmp.Diff(tt.want, byUs); diff != "" {
				t.Errorf("unexpected table after our add (-want +ip):\n%s", diff)
			}

			e.mustIP("endpoint flush")
			e.mustIP("endpoint add " + tt.args)
			if diff := cmp.Diff(byUs, e.mustIP("endpoint show")); diff != "" {
				t.Errorf("ip's add made another table (-ours +ip):\n%s", diff)
			}

			e.comparePrinting(t)
		})
	}
}

// comparePrinting checks that show, show -j and show -j -p print what ip
// prints for the current table, and show id N for each endpoint.
func (e *cliEnv) comparePrinting(t *testing.T) {
	t.Helper()
	if diff := cmp.Diff(e.mustIP("endpoint show"), e.must("endpoint show").stdout); diff != "" {
		t.Errorf("unexpected show (-ip +ours):\n%s", diff)
	}

	ipJSON := e.mustIP("endpoint show", "-j")
	sameJSON(t, "show -j", ipJSON, e.must("-j endpoint show").stdout)
	if diff := cmp.Diff(ipJSON, e.must("endpoint show -j").stdout); diff != "" {
		t.Errorf("unexpected show -j bytes (-ip +ours):\n%s", diff)
	}
	if diff := cmp.Diff(e.mustIP("endpoint show", "-j", "-p"),
		e.must("endpoint show --json --pretty").stdout); diff != "" {
		t.Errorf("unexpected show -j -p (-ip +ours):\n%s", diff)
	}

	var eps []struct{ ID int }
	if err := json.Unmarshal([]byte(ipJSON), &eps); err != nil {
		t.Fatalf("decoding ip's JSON: %v", err)
	}
	for _, ep := range eps {
		args := "endpoint show id " + strconv.Itoa(ep.ID)
		if diff := cmp.Diff(e.mustIP(args), e.must(args).stdout); diff != "" {
			t.Errorf("unexpected %s (-ip +ours):\n%s", args, diff)
		}
		sameJSON(t, args+" -j", e.mustIP(args, "-j"), e.must("-j "+args).stdout)
	}
}

// TestEndpointChangesAgainstIP runs delete, change and flush with this CLI
// and with ip on the same starting table and compares the results.
func TestEndpointChangesAgainstIP(t *testing.T) {
	e := newCLIEnv(t)
	setup := []string{
		"10.9.1.1 id 3 subflow dev v1",
		"10.9.1.1 port 20000 id 4 signal",
		"10.9.9.9 id 5 subflow fullmesh",
		"2001:db8::1 id 6 subflow",
	}
	tests := []struct {
		name string
		args string
		want string // the table afterwards, as ip shows it
	}{
		{"delete by id", "endpoint delete id 3",
			"10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow fullmesh \n2001:db8::1 id 6 subflow \n"},
		{"delete id 0 with address", "endpoint delete id 0 10.9.1.1",
			"10.9.1.1 id 3 subflow dev v1 \n10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow fullmesh \n2001:db8::1 id 6 subflow \n"},
		{"change by id", "endpoint change id 3 backup",
			"10.9.1.1 id 3 subflow backup dev v1 \n10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow fullmesh \n2001:db8::1 id 6 subflow \n"},
		{"change by id clears what it does not name", "endpoint change id 5 backup",
			"10.9.1.1 id 3 subflow dev v1 \n10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow backup \n2001:db8::1 id 6 subflow \n"},
		{"change by address", "endpoint change 2001:db8::1 fullmesh",
			"10.9.1.1 id 3 subflow dev v1 \n10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow fullmesh \n2001:db8::1 id 6 subflow fullmesh \n"},
		{"change by address and port", "endpoint change 10.9.1.1 port 20000 backup",
			"10.9.1.1 id 3 subflow dev v1 \n10.9.1.1 port 20000 id 4 signal backup \n10.9.9.9 id 5 subflow fullmesh \n2001:db8::1 id 6 subflow \n"},
		{"change nofullmesh", "endp c id 5 nofullmesh",
			"10.9.1.1 id 3 subflow dev v1 \n10.9.1.1 port 20000 id 4 signal \n10.9.9.9 id 5 subflow \n2001:db8::1 id 6 subflow \n"},
		{"flush", "endpoint flush", ""},
		{"flush abbreviated", "e f", ""},
	}

	reset := func() {
		e.mustIP("endpoint flush")
		for _, s := range setup {
			e.mustIP("endpoint add " + s)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			reset()
			e.must(tt.args)
			byUs := e.mustIP("endpoint show")
			if diff := cmp.Diff(tt.want, byUs); diff != "" {
				t.Errorf("unexpected table after ours (-want +ip):\n%s", diff)
			}

			reset()
			ipArgs := strings.Replace(strings.Replace(tt.args, "endp c", "endpoint change", 1), "e f", "endpoint flush", 1)
			e.mustIP(ipArgs)
			if diff := cmp.Diff(byUs, e.mustIP("endpoint show")); diff != "" {
				t.Errorf("ip made another table (-ours +ip):\n%s", diff)
			}
			e.comparePrinting(t)
		})
	}
}

// TestEndpointShowsWhatIPAdds checks that endpoints added by ip, including
// the kernel's own implicit ones, print as ip prints them.
func TestEndpointShowsWhatIPAdds(t *testing.T) {
	e := newCLIEnv(t)
	for _, s := range []string{
		"10.9.1.1 dev v1 id 1 subflow backup",
		"10.9.1.1 port 20000 id 2 signal backup",
		"2001:db8::1 id 20 subflow fullmesh",
		"10.9.9.9 id 30",
		"10.9.9.10 id 31 dev if99 signal",
	} {
		e.mustIP("endpoint add " + s)
	}
	e.comparePrinting(t)

	if r := e.must("endpoint"); r.stdout != e.mustIP("endpoint show") {
		t.Errorf("endpoint without a verb printed %q", r.stdout)
	}
}

// TestLimitsAgainstIP sets limits with this CLI and with ip.
func TestLimitsAgainstIP(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name string
		ours string
		ip   string
		want string
	}{
		{"both, subflow singular", "limits set subflow 4 add_addr_accepted 2",
			"limits set subflows 4 add_addr_accepted 2", "add_addr_accepted 2 subflows 4 \n"},
		{"one only", "limits set add_addr_accepted 1",
			"limits set add_addr_accepted 1", "add_addr_accepted 1 subflows 2 \n"},
		{"abbreviated", "l set s 8 a 8", "limits set subflows 8 add_addr_accepted 8",
			"add_addr_accepted 8 subflows 8 \n"},
		{"nothing", "limits set", "limits set", "add_addr_accepted 0 subflows 2 \n"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.mustIP("limits set subflows 2 add_addr_accepted 0")
			e.must(tt.ours)
			if diff := cmp.Diff(tt.want, e.mustIP("limits show")); diff != "" {
				t.Errorf("unexpected limits after ours (-want +ip):\n%s", diff)
			}

			e.mustIP("limits set subflows 2 add_addr_accepted 0")
			e.mustIP(tt.ip)
			got := e.mustIP("limits show")
			if diff := cmp.Diff(got, e.must("limits show").stdout); diff != "" {
				t.Errorf("unexpected limits show (-ip +ours):\n%s", diff)
			}
			if diff := cmp.Diff(got, e.must("limits").stdout); diff != "" {
				t.Errorf("unexpected limits (-ip +ours):\n%s", diff)
			}

			var l struct {
				AddAddrAccepted *int `json:"add_addr_accepted"`
				Subflows        *int `json:"subflows"`
			}
			out := e.must("-j limits show").stdout
			if err := json.Unmarshal([]byte(out), &l); err != nil ||
				l.AddAddrAccepted == nil || l.Subflows == nil {
				t.Fatalf("limits -j printed %q (%v)", out, err)
			}
			if text := "add_addr_accepted " + strconv.Itoa(*l.AddAddrAccepted) +
				" subflows " + strconv.Itoa(*l.Subflows) + " \n"; text != got {
				t.Errorf("limits -j printed %q, ip shows %q", out, got)
			}
		})
	}
}

// TestNetNSOption runs show with the options in every place ip and this
// CLI accept them.
func TestNetNSOption(t *testing.T) {
	e := newCLIEnv(t)
	e.mustIP("endpoint add 10.9.1.1 id 3 subflow dev v1")
	want := e.mustIP("endpoint show", "-j")

	for _, args := range [][]string{
		{"-n", e.ns.Name, "-j", "endpoint", "show"},
		{"--netns", e.ns.Name, "endpoint", "--json", "show"},
		{"-netns", e.ns.Name, "endp", "s", "-json"},
		{"-j", "endpoint", "show", "-n", e.ns.Name},
		{"e", "-n", e.ns.Name, "-j"},
	} {
		r := run(t, e.bin, args...)
		if r.code != 0 || r.stdout != want {
			t.Errorf("mptcp-autopm %s: exit %d, printed %q (%s), want %q",
				strings.Join(args, " "), r.code, r.stdout, r.stderr, want)
		}
	}

	// A device is looked up in the namespace given after it.
	r := run(t, e.bin, "endpoint", "add", "10.9.9.9", "dev", "v2", "-n", e.ns.Name)
	if r.code != 0 {
		t.Fatalf("add with dev before -n: exit %d: %s", r.code, r.stderr)
	}
	if got := e.mustIP("endpoint show id 4"); got != "10.9.9.9 id 4 dev v2 \n" {
		t.Errorf("add with dev before -n made %q", got)
	}

	r = run(t, e.bin, "-n", "mpa-no-such-ns", "endpoint", "show")
	ipr := run(t, "ip", "-n", "mpa-no-such-ns", "mptcp", "endpoint", "show")
	if r.code != ipr.code || r.stderr != "Error: "+ipr.stderr {
		t.Errorf("missing netns: exit %d %q, ip exit %d %q", r.code, r.stderr, ipr.code, ipr.stderr)
	}
}

// TestExitCodesAgainstIP checks that usage errors, unparsable addresses
// and kernel refusals exit as ip does (255, 1, 2), with ip's message.
func TestExitCodesAgainstIP(t *testing.T) {
	e := newCLIEnv(t)
	e.mustIP("endpoint add 10.9.1.1 id 3 subflow")
	tests := []struct {
		args        string
		code        int
		sameMessage bool // else only the exit code is ip's
	}{
		{"endpoint add 10.0.0.8 signal fullmesh", 255, true},
		{"endpoint add id 3", 255, true},
		{"endpoint add 10.0.0.6 port 1 subflow", 255, true},
		{"endpoint add 10.0.0.6 id 256", 255, true},
		{"endpoint add 10.0.0.6 dev nope", 255, true},
		{"endpoint add 10.0.0.6 dev a/b", 255, true},
		{"endpoint add 10.0.0.6 id", 255, true},
		{"endpoint delete id 3 10.0.0.1", 255, true},
		{"endpoint delete id 0", 255, true},
		{"endpoint delete 10.0.0.1", 255, true},
		{"endpoint change id 3 signal", 255, true},
		{"endpoint change id 3 port 5 backup", 255, true},
		{"endpoint bogus", 255, true},
		{"limits set bogus 1", 255, true},
		{"limits set subflows x", 255, true},
		{"monitor now", 255, true},
		{"endpoint add implicit", 1, true},
		{"endpoint add 10.0.0.1 implicit", 1, true},
		{"endpoint add fe80::1%lo", 1, true},
		{"endpoint add 10.9.1.1", 2, true},
		{"endpoint add 10.9.1.2 id 3", 2, true},
		{"endpoint show id 9", 2, true},
		{"endpoint delete id 9", 2, true},
		{"endpoint change id 9 backup", 2, true},
		{"endpoint change 10.1.1.1 backup", 2, true},
		{"endpoint add 10.9.9.9 port 1 signal", 2, true},
		{"endpoint add 10.9.1.1 port 1 signal subflow", 2, true},
		// ip leaves this to the kernel; the pm client refuses it
		// first, in the kernel's words.
		{"limits set subflows 9", 2, true},
		// ip leaves this to the kernel too; the client's words differ.
		{"endpoint change backup", 2, false},
	}

	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			e.t = t
			ours, ip := e.ours(tt.args), e.ip(tt.args)
			if ours.code != tt.code || ip.code != tt.code {
				t.Errorf("unexpected exit: ours %d (%q), ip %d (%q), want %d",
					ours.code, ours.stderr, ip.code, ip.stderr, tt.code)
			}
			if !tt.sameMessage {
				if !strings.HasPrefix(ours.stderr, "Error: ") || strings.Count(ours.stderr, "\n") != 1 {
					t.Errorf("message is not one Error line: %q", ours.stderr)
				}
				return
			}

			if got, want := firstLine(ours.stderr), firstLine(ip.stderr); got != want {
				t.Errorf("unexpected message:\n ours %q\n ip   %q", got, want)
			}
		})
	}
}

// firstLine returns the first line of an error message without "Error: ",
// with ip's program name replaced by ours: ip prints some messages without
// the prefix and some with a blank line after them.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	line = strings.TrimPrefix(line, "Error: ")

	return strings.ReplaceAll(line, `"ip mptcp help"`, `"mptcp-autopm help"`)
}
