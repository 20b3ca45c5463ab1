package engine

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

func mustAdd(t *testing.T, k pm.Kernel, e pm.Endpoint) {
	t.Helper()
	if _, err := k.AddEndpoint(e); err != nil {
		t.Fatal(err)
	}
}

func TestRunReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{})
		h.send(laptop())
		h.want("S1", s1State)
		time.Sleep(time.Second)

		// S12: Wi-Fi gets signal, which cannot be set in place.
		signal := policy{flags: map[string]pm.Flags{"wifi": pm.FlagSignal}}
		h.e.Reload(signal, "signal.toml")
		synctest.Wait()
		h.want("S12 reload", "192.0.2.10 id 1 subflow dev eth0 \n"+
			"198.51.100.20 id 2 signal dev wlan0 \n"+
			"add_addr_accepted 2 subflows 5 \n")
		if st := h.e.Status(); st.Rules != "signal.toml" {
			t.Errorf("status names rules %q, want signal.toml", st.Rules)
		}
		time.Sleep(time.Second)
		h.log.take()

		// The same rules again: no kernel operation, no info line.
		h.k.ResetCounts()
		h.e.Reload(signal, "signal.toml")
		synctest.Wait()
		if c := h.k.Counts(); c.Changes() != 0 || c.LimitReads != 1 {
			t.Errorf("unexpected kernel calls for the same rules: %+v", c)
		}
		if log := h.log.take(); strings.Contains(log, "msg=reconciled") {
			t.Errorf("a reload of the same rules reconciled:\n%s", log)
		}

		// A broken file: the old rules stay and the status says why.
		h.e.RulesFailed(fmt.Errorf("rules.toml: rule %q: bad", "broken"))
		if st := h.e.Status(); !strings.Contains(st.RulesError, "broken") {
			t.Errorf("status lacks the rules error: %+v", st)
		}
		h.e.Reload(signal, "signal.toml")
		synctest.Wait()
		if st := h.e.Status(); st.RulesError != "" {
			t.Errorf("a good reload left the error: %q", st.RulesError)
		}
	})
}

func TestRunRestartMakesNoOperation(t *testing.T) {
	dir := t.TempDir()
	k := pmtest.New()
	synctest.Test(t, func(t *testing.T) {
		owned, err := LoadOwned(OwnedPath(dir, 1))
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, k, Config{Owned: owned})
		h.send(laptop())
		h.want("S1", s1State)
		h.stop()
	})

	// S14: a new daemon finds its endpoints, and the ownership of one the
	// rules now skip, in the state file.
	k.ResetCounts()
	synctest.Test(t, func(t *testing.T) {
		owned, err := LoadOwned(OwnedPath(dir, 1))
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, k, Config{Owned: owned})
		h.send(laptop())
		if c := k.Counts(); c.Changes() != 0 {
			t.Errorf("restarted engine changed the kernel: %+v", c)
		}
		if log := h.log.take(); strings.Contains(log, "adopted") ||
			strings.Contains(log, "msg=reconciled") {
			t.Errorf("restarted engine adopted or reconciled:\n%s", log)
		}

		time.Sleep(time.Second)
		h.e.Reload(policy{skip: []string{"eth0"}}, "skip.toml")
		synctest.Wait()
		h.want("ours, skipped after restart",
			"198.51.100.20 id 2 subflow backup dev wlan0 \n"+
				"add_addr_accepted 2 subflows 3 \n")
	})
}

func TestRunLeaksAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// S11: an address on no link, an interface that is gone, and a
		// foreign signal endpoint for a public address behind NAT.
		k := pmtest.New()
		mustAdd(t, k, ep("10.9.9.9", sub, 0))
		mustAdd(t, k, ep("192.0.2.99", sub, 99))
		mustAdd(t, k, ep("203.0.113.200", pm.FlagSignal, 0))
		h := newHarness(t, k, Config{})

		h.send((&snap{}).link(2, "eth0", "ethernet").
			addr(2, "192.0.2.10/24", 0).route(2, "192.0.2.1", 100))
		h.want("S11", "203.0.113.200 id 3 signal \n"+
			"192.0.2.10 id 4 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 5 \n")
		log := h.log.take()
		for _, want := range []string{
			"delete 10.9.9.9 id 1 subflow (address gone)",
			"delete 192.0.2.99 id 2 subflow dev if99 (interface if99 gone)",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})
}

func TestRunForeignEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		// Someone else's endpoints: one for an address the rules skip,
		// one for an address the rules want with other flags.
		mustAdd(t, k, ep("192.0.2.10", sub, 2))
		mustAdd(t, k, ep("198.51.100.20", pm.FlagSignal, 3))
		h := newHarness(t, k, Config{Rules: policy{skip: []string{"eth0"}}})

		h.send(laptop())
		h.want("foreign kept, wanted adopted",
			"192.0.2.10 id 1 subflow dev eth0 \n"+
				"198.51.100.20 id 2 subflow backup dev wlan0 \n"+
				"add_addr_accepted 2 subflows 4 \n")
		log := h.log.take()
		adopted := `adopted="198.51.100.20 id 2 signal dev wlan0"`
		if !strings.Contains(log, adopted) {
			t.Errorf("no adoption logged:\n%s", log)
		}
		if lines := above(log, "DEBUG"); len(lines) != 1 ||
			!strings.Contains(lines[0], "msg=reconciled") {
			t.Errorf("want the one reconciled line above debug, got:\n%s",
				strings.Join(lines, "\n"))
		}

		// ManageAll removes the foreign endpoint of a skipped address.
		time.Sleep(time.Second)
		h.e.Reload(policy{skip: []string{"eth0"},
			settings: rules.Settings{ManageAll: true}}, "all.toml")
		synctest.Wait()
		h.want("manage all", "198.51.100.20 id 2 subflow backup dev wlan0 \n"+
			"add_addr_accepted 2 subflows 3 \n")

		// On exit, ours go and foreign ones stay.
		mustAdd(t, k.Other(), ep("192.0.2.77", sub, 2))
		h.stop()
		if err := h.e.RemoveOurs(); err != nil {
			t.Fatal(err)
		}
		h.want("removed on exit", "192.0.2.77 id 3 subflow dev eth0 \n"+
			"add_addr_accepted 2 subflows 3 \n")
	})
}

func TestRunCapStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &snap{}
		for i := range 10 {
			idx := 10 + i
			s.link(idx, fmt.Sprintf("eth%d", i), "ethernet").
				addr(idx, fmt.Sprintf("198.18.%d.2/24", i), 0).
				route(idx, fmt.Sprintf("198.18.%d.1", i), 100+i)
		}
		h := newHarness(t, nil, Config{})
		h.send(s)

		st := h.e.Status()
		if len(st.Endpoints) != 8 || st.Limits.Subflows != 8 ||
			st.Limits.AddAddrAccepted != 2 {
			t.Fatalf("want 8 endpoints and 8/2, got %d and %+v",
				len(st.Endpoints), st.Limits)
		}
		var out []string
		for _, l := range st.LeftOut {
			out = append(out, l.Addr+" dev "+l.Dev)
		}
		if got := strings.Join(out, ", "); got != "198.18.8.2 dev eth8, 198.18.9.2 dev eth9" {
			t.Errorf("unexpected left-out addresses: %s", got)
		}
		if !strings.Contains(st.LeftOut[0].Reason, "slots") {
			t.Errorf("left-out reason does not say why: %q", st.LeftOut[0].Reason)
		}

		// One of the eight goes: the first left-out takes its slot.
		time.Sleep(time.Second)
		s.Addrs = s.Addrs[1:]
		h.send(s)
		st = h.e.Status()
		if len(st.Endpoints) != 8 || len(st.LeftOut) != 1 ||
			st.LeftOut[0].Addr != "198.18.9.2" {
			t.Errorf("freed slot not taken: %+v, left out %+v",
				st.Endpoints, st.LeftOut)
		}
	})
}

func TestStatusJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{RulesSource: "rules.toml"})
		s := laptop().addr(2, "fe80::10/64", 0)
		s.MPTCP.Connections = 1
		s.MPTCP.Subflows = map[watchersKey]watchersCount{
			{Addr: netip.MustParseAddr("192.0.2.10")}: {Established: 2},
		}
		h.send(s)

		data, err := json.Marshal(h.e.Status())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`"rules":"rules.toml"`,
			`"addr":"fe80::10"`, `"why":"link-local"`,
			`"rule":"wifi-backup"`, `"wanted":"subflow backup"`,
			`"line":"192.0.2.10 id 1 subflow dev eth0"`,
			`"subflows":{"established":2,"closed":0,"failed":0}`,
			`"how":"auto: subflow=2 fullmesh=0 signal=0"`,
			`"last_ops":["limits add_addr_accepted 2 subflows 4 (auto: subflow=2 fullmesh=0 signal=0)","add 192.0.2.10 subflow dev eth0 (rule other)"`,
			`"errors":[]`,
			`"connections":1`,
		} {
			if !strings.Contains(string(data), want) {
				t.Errorf("status JSON lacks %s:\n%s", want, data)
			}
		}
	})
}

func TestDryRunChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, Config{DryRun: true, Resync: time.Second})
		h.send(laptop())
		if c := h.k.Counts(); c.Changes() != 0 {
			t.Errorf("dry run changed the kernel: %+v", c)
		}
		st := h.e.Status()
		if len(st.LastOps) != 3 || !st.DryRun {
			t.Errorf("dry run status lacks the would-be ops: %+v", st)
		}

		// The same plan at every event and resync is said once.
		for range 3 {
			h.send(laptop())
			time.Sleep(time.Second)
			synctest.Wait()
		}
		log := h.log.take()
		if n := count(log, "level=INFO"); n != 1 {
			t.Errorf("want 1 info line for an unchanged plan, got %d:\n%s",
				n, log)
		}

		// A new plan is news.
		h.send(laptop().carrierOff(2))
		if log := h.log.take(); count(log, `msg="dry run: would`) != 1 {
			t.Errorf("a new plan was not logged:\n%s", log)
		}
	})
}

// above returns the lines of log above level.
func above(log, level string) []string {
	var lines []string
	for l := range strings.Lines(log) {
		if l != "" && !strings.Contains(l, "level="+level) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}

	return lines
}
