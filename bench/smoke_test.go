package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSmoke runs the whole bench once in smoke mode (-smoke: few samples,
// a short idle window, every figure once) and checks that every figure
// produced a cell for every contestant. It proves the harness works and
// asserts nothing about any time measured.
func TestSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("privileged test: the bench makes network namespaces and needs root (run make test as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("privileged test: ip(8) from iproute2 is not installed (make deps)")
	}
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
		t.Skip("privileged test: this kernel has no MPTCP")
	}
	if testing.Short() {
		t.Skip("the smoke bench takes about a minute; skipped with -short")
	}

	// mptcpd is unpacked once into the bench's cache, as make bench does.
	cache := defaultWork()
	if _, err := fetchMptcpd(cache); err != nil {
		t.Skipf("mptcpd cannot be downloaded and unpacked, so it cannot be compared: %v", err)
	}

	tmp := t.TempDir()
	autopmBin := filepath.Join(tmp, "mptcp-autopm")
	benchBin := filepath.Join(tmp, "bench")
	build(t, "..", autopmBin, "./cmd/mptcp-autopm")
	build(t, ".", benchBin, ".")

	out := filepath.Join(tmp, "report.json")
	cmd := exec.Command(benchBin, "-smoke", "-bin", autopmBin, "-work", tmp,
		"-mptcpd", cache, "-out", out, "-src", "..")
	output, err := cmd.CombinedOutput()
	t.Logf("bench output:\n%s", output)
	if err != nil {
		t.Fatalf("bench -smoke: %v", err)
	}

	checkReport(t, out)
	checkNoNamespaces(t, cmd.Process.Pid)
}

func build(t *testing.T, dir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// checkReport checks that every figure has rows and that every contestant
// that takes part in a figure got a cell, a number or a word such as
// "never" or "n/a".
func checkReport(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("unexpected figure errors: %v", rep.Errors)
	}

	seen := map[string]bool{}
	for _, ro := range rep.Rows {
		seen[ro.Figure[:1]] = true
		for _, c := range contestants {
			if ce, ok := ro.Cells[c]; !ok || ce.Value == nil && ce.Text == "" {
				t.Errorf("figure %q, %s: no cell for %s", ro.Figure, ro.Metric, c)
			}
		}
	}
	for _, fig := range strings.Split("1234567", "") {
		if !seen[fig] {
			t.Errorf("figure %s has no row in the report", fig)
		}
	}
	if rep.Poll.Dumps == 0 {
		t.Error("the poller made no dump")
	}
	checkOpsCounted(t, b)
}

// checkOpsCounted checks that the burst counted kernel operations for the
// contestants whose logs report them: a burst of changes needs some, so
// zero means the log format is no longer understood.
func checkOpsCounted(t *testing.T, b []byte) {
	t.Helper()
	var raw struct {
		Samples struct {
			Burst map[string][]burstRun `json:"burst"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{autopm, floor} {
		runs := raw.Samples.Burst[name]
		if len(runs) == 0 || runs[0].Ops <= 0 {
			t.Errorf("no kernel operation counted for %s in the burst: %+v", name, runs)
		}
	}
}

func checkNoNamespaces(t *testing.T, pid int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	mark := nsPrefix
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, mark) &&
			strings.Contains(line, "-"+strconv.Itoa(pid)+"-") {
			t.Errorf("namespace left behind: %s", line)
		}
	}
}
