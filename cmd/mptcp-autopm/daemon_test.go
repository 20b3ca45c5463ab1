package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram",
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	if err := notifyTo(path, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "READY=1" {
		t.Errorf("unexpected datagram: want READY=1, got %q", got)
	}

	if err := notifyTo("", "READY=1"); err != nil {
		t.Errorf("no NOTIFY_SOCKET must be a no-op, got %v", err)
	}
}

const goodRules = `
[[rule]]
name = "lan"
when = 'link.name == "eth9"'
skip = true
`

const brokenRules = `
[[rule]]
name = "broken"
when = 'link.typo == "wifi"'
flags = ["subflow"]
`

// controlDaemon is a daemon whose engine runs over an in-memory kernel,
// serving its control socket.
func controlDaemon(t *testing.T) (*daemon, string, string) {
	t.Helper()
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.toml")
	if err := os.WriteFile(rulesPath, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.DiscardHandler)
	d := &daemon{flags: &runFlags{rules: rulesPath}, log: log}
	d.eng = engine.New(engine.Config{Kernel: pmtest.New(), Rules: set,
		RulesSource: set.File(), Log: log})

	sock := filepath.Join(dir, "ctl.sock")
	ln, err := listenControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := newControlServer(d)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	return d, sock, rulesPath
}

func TestControlSocket(t *testing.T) {
	d, sock, rulesPath := controlDaemon(t)

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("control socket mode: want 0600, got %o", mode)
	}
	if _, err := listenControl(sock); err == nil {
		t.Errorf("a second daemon could listen on a live socket")
	}

	c := newControlClient(sock)
	st, _, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rules != rulesPath {
		t.Errorf("status names rules %q, want %q", st.Rules, rulesPath)
	}

	if err := os.WriteFile(rulesPath, []byte(brokenRules), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := c.reload()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rules.toml", "broken", "typo"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("reload error lacks %q: %q", want, r.Error)
		}
	}
	if st, _, _ := c.status(); st.RulesError != r.Error {
		t.Errorf("status rules error: want %q, got %q", r.Error, st.RulesError)
	}

	var out bytes.Buffer
	err = runReload(&out, &out, []string{"--socket", sock})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("reload command of a broken file: want an error naming the rule, got %v", err)
	}

	if err := os.WriteFile(rulesPath, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runReload(&out, &out, []string{"--socket", sock}); err != nil {
		t.Fatal(err)
	}
	if want := "reloaded rules from " + rulesPath + "\n"; out.String() != want {
		t.Errorf("unexpected reload output: want %q, got %q", want, out.String())
	}
	if st := d.eng.Status(); st.RulesError != "" {
		t.Errorf("a good reload left the error: %q", st.RulesError)
	}
}

func TestListenControlReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := listenControl(sock)
	if err != nil {
		t.Fatalf("a stale socket file blocked the daemon: %v", err)
	}
	ln.Close()
}

func TestPrintReport(t *testing.T) {
	wanted := "subflow"
	st := engine.Status{
		Rules:      "/etc/mptcp-autopm/rules.toml",
		RulesError: "rules.toml: rule \"broken\": unknown name typo",
		Trigger:    "event",
		Links: []engine.LinkStatus{{
			Name: "eth0", Index: 2, Type: "ethernet", Up: true, Carrier: true,
			Addrs: []engine.AddrStatus{
				{Addr: "192.0.2.10", PrefixLen: 24, Rule: "other",
					Wanted:   &wanted,
					Endpoint: &engine.EndpointStatus{ID: 1, Flags: "subflow"},
					Subflows: engine.SubflowStatus{Established: 2}},
				{Addr: "fe80::10", PrefixLen: 64, Why: "link-local"},
			},
		}},
		Endpoints: []engine.EndpointStatus{
			{Line: "192.0.2.10 id 1 subflow dev eth0", Ours: true},
			{Line: "203.0.113.200 id 2 signal"},
		},
		Limits: engine.LimitsStatus{Subflows: 5, AddAddrAccepted: 2,
			How: "auto: subflow=1 fullmesh=0 signal=1"},
		LeftOut: []engine.LeftOut{{Addr: "198.18.9.2", Dev: "eth9",
			Flags: "subflow", Reason: "all 8 endpoint slots taken"}},
		Rejoins: []engine.RejoinStatus{{Endpoint: "192.0.2.11 dev eth0",
			Reason:   "its subflows failed: the kernel does not retry",
			Attempts: 1}},
	}

	var b bytes.Buffer
	printReport(&b, st, false)
	want := `rules: /etc/mptcp-autopm/rules.toml
rules error (previous rules still in use):
  rules.toml: rule "broken": unknown name typo
last reconcile: never (event)

links:
  eth0 (if2, ethernet, up)
    192.0.2.10/24: endpoint id 1 subflow (rule other); subflows 2 established, 0 closed, 0 failed
    fe80::10/64: no endpoint: link-local

endpoints:
  192.0.2.10 id 1 subflow dev eth0 (ours)
  203.0.113.200 id 2 signal (foreign)
limits: subflows 5 add_addr_accepted 2 (auto: subflow=1 fullmesh=0 signal=1)

left out:
  198.18.9.2 subflow dev eth9: all 8 endpoint slots taken

re-adds pending:
  192.0.2.11 dev eth0: its subflows failed: the kernel does not retry (1 re-adds so far, next never)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("unexpected report (-want +got):\n%s", diff)
	}
}

func TestNoDaemon(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, socket string
		errno        error
	}{
		{"no socket file", filepath.Join(dir, "none.sock"), syscall.ENOENT},
		{"stale socket file", stale, syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := "no daemon is listening on " + tt.socket +
				` (is "mptcp-autopm run" running? use --socket for another)`
			var out bytes.Buffer
			for cmd, err := range map[string]error{
				"status": runStatus(&out, &out, []string{"--socket", tt.socket}),
				"reload": runReload(&out, &out, []string{"--socket", tt.socket}),
			} {
				if err == nil {
					t.Fatalf("%s without a daemon: no error", cmd)
				}
				if diff := cmp.Diff(want, err.Error()); diff != "" {
					t.Errorf("unexpected %s error (-want +got):\n%s", cmd, diff)
				}
				if !errors.Is(err, tt.errno) {
					t.Errorf("%s error does not wrap %v: %#v", cmd, tt.errno, err)
				}
			}
		})
	}
}

// TestRunCreatesNoParents checks that a --socket or --state-dir under a
// directory that does not exist fails, before the kernel is touched, and
// creates nothing; the state directory itself is created.
func TestRunCreatesNoParents(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	sock := filepath.Join(dir, "ctl.sock")
	norules := filepath.Join(dir, "no-rules.toml")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"socket directory missing",
			[]string{"--socket", filepath.Join(missing, "ctl.sock"),
				"--state-dir", state},
			"control socket " + missing + "/ctl.sock: directory " + missing +
				" does not exist (create it, or choose another --socket)"},
		{"socket directory a file",
			[]string{"--socket", filepath.Join(file, "ctl.sock"),
				"--state-dir", state},
			"control socket " + file + "/ctl.sock: " + file +
				" is not a directory"},
		{"state parent missing",
			[]string{"--socket", sock,
				"--state-dir", filepath.Join(missing, "state")},
			"state directory " + missing + "/state: its parent " + missing +
				" does not exist (create it, or choose another --state-dir)"},
		{"state directory a file",
			[]string{"--socket", sock, "--state-dir", file},
			"state directory " + file + " is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A rules file that does not exist stops a run that got
			// past the paths before it reaches the kernel.
			args := append(tt.args, "--rules", norules)
			var out bytes.Buffer
			err := runDaemon(&out, args)
			if err == nil {
				t.Fatal("run started")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("unexpected error: want %q, got %q", tt.want, got)
			}
			if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run created %s", missing)
			}
		})
	}
}

func TestStateDirCreatesItself(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := stateDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("want a directory of mode 0700, got %v", fi.Mode())
	}
	if err := stateDir(dir); err != nil {
		t.Errorf("an existing state directory: %v", err)
	}
}
