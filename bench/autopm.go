package main

import (
	"os"
	"path/filepath"
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

// autopmOpPattern matches the log line mptcp-autopm writes for each kernel
// operation it makes (pm.Reconciler at debug level).
const autopmOpPattern = `"msg":"(endpoint added|endpoint deleted|endpoint flags set|limits set)"`

// autopmArgs is the command line that runs mptcp-autopm with the bench's
// rules, a state directory and control socket of its own, and JSON logs at
// debug level so that every kernel operation is counted.
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
