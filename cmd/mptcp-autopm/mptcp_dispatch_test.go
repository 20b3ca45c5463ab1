package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDispatch checks that options before the command reach it at the
// head of its arguments, and the exit codes of dispatch itself.
func TestDispatch(t *testing.T) {
	var got []string
	register("zz-echo", "test command", func(args []string) error {
		got = args
		if len(args) > 0 && args[len(args)-1] == "fail" {
			return invarg("wrong", "fail")
		}
		if len(args) > 0 && args[len(args)-1] == "plain" {
			return errors.New("plain")
		}

		return nil
	})
	t.Cleanup(func() { delete(commands, "zz-echo") })

	tests := []struct {
		args string
		want []string
		code int
	}{
		{args: "zz-echo a b", want: []string{"a", "b"}},
		{args: "-n X -j zz-echo show", want: []string{"-n", "X", "-j", "show"}},
		{args: "--json -- zz-echo x", want: []string{"--json", "x"}},
		{args: "zz-echo fail", want: []string{"fail"}, code: 255},
		{args: "zz-echo plain", want: []string{"plain"}, code: 1},
		{args: "-x zz-echo", code: 255},
		{args: "-n", code: 255},
		{args: "nosuchcommand", code: 255},
		{args: "", code: 255},
		{args: "help", code: 0},
		{args: "-h", code: 0},
	}

	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got = nil
			code := dispatch(strings.Fields(tt.args))
			if code != tt.code {
				t.Errorf("unexpected exit: got %d, want %d", code, tt.code)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected command arguments (-want +got):\n%s", diff)
			}
		})
	}
}
