package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// autopmRules is the only rules file the bench gives mptcp-autopm: the
// embedded default policy, plus type overrides, since a veth has no radio
// and no cable (SCENARIOS: a test may add type overrides and nothing else).
const autopmRules = `# Written by the bench: default policy, veth types declared.
[[settings.type]]
match = "eth*"
type = "ethernet"

[[settings.type]]
match = "wlan*"
type = "wifi"
`

// reconciledOps finds the operations of mptcp-autopm's one Info line per
// reconcile that changed something: msg=reconciled ops="op; op; ..."
// lists the operations the kernel accepted (engine.logResult).
var reconciledOps = regexp.MustCompile(`msg=reconciled .*\bops="((?:[^"\\]|\\.)*)"`)

// refusedOp matches the line engine's backoff writes for an operation the
// kernel refused, the first time or again.
var refusedOp = regexp.MustCompile(`msg="operation refused(?: again)?, will retry"`)

// autopmOps counts the kernel operations one log line reports. The daemon
// runs at its default level, Info, so that logging costs it no more than
// in normal use.
func autopmOps(line []byte) int {
	// An operation the kernel refused was made all the same.
	if refusedOp.Match(line) {
		return 1
	}

	m := reconciledOps.FindSubmatch(line)
	if m == nil || len(m[1]) == 0 {
		return 0
	}

	return strings.Count(string(m[1]), "; ") + 1
}

// autopmArgs is the command line that runs mptcp-autopm with the bench's
// rules, a state directory and a control socket of its own.
func autopmArgs(work, stateDir string) []string {
	return []string{
		"run",
		"--rules", filepath.Join(work, "autopm-rules.toml"),
		"--state-dir", stateDir,
		"--socket", filepath.Join(stateDir, "ctl.sock"),
	}
}

// writeAutopmRules writes the rules file autopmArgs names.
func writeAutopmRules(work string) error {
	return os.WriteFile(filepath.Join(work, "autopm-rules.toml"),
		[]byte(autopmRules), 0o644)
}
