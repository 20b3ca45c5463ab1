package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestHelpExitsZero checks that asking a daemon command for its usage
// prints the usage and exits 0, with no "Error:" line.
func TestHelpExitsZero(t *testing.T) {
	cmds := map[string]func(stdout, stderr io.Writer, args []string) error{
		"run": func(_, stderr io.Writer, args []string) error {
			return runDaemon(stderr, args)
		},
		"check":  runCheck,
		"rules":  runRules,
		"plan":   runPlan,
		"status": runStatus,
		"reload": runReload,
	}

	for name, run := range cmds {
		for _, arg := range []string{"--help", "-h"} {
			t.Run(name+arg, func(t *testing.T) {
				var out bytes.Buffer
				code := report(run(&out, &out, []string{arg}))
				if code != 0 {
					t.Errorf("exit code: want 0, got %d", code)
				}

				usage := "usage: mptcp-autopm " + name
				if !strings.Contains(out.String(), usage) {
					t.Errorf("output lacks %q: %q", usage, out.String())
				}
			})
		}
	}
}

// TestUsageMistakeExits255 checks that a real usage mistake still exits
// 255, as ip(8) does.
func TestUsageMistakeExits255(t *testing.T) {
	for _, args := range [][]string{{"--nonsense"}, {"extra"}} {
		var out bytes.Buffer
		if code := report(runStatus(&out, &out, args)); code != 255 {
			t.Errorf("status %q: exit code: want 255, got %d", args, code)
		}
	}
}
