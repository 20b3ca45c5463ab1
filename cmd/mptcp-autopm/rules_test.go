package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/rules"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	writeRulesFile(t, good, "[[rule]]\nname = 'no-eth0'\nwhen = 'link.name == \"eth0\"'\nskip = true\n")
	writeRulesFile(t, bad, "[[rule]]\nname = 'home-wifi'\nwhen = 'link.type == \"wifi\" && linx'\nflags = ['turbo']\n")

	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantErr    string
		wantReturn string
	}{{
		name:    "valid",
		args:    []string{"--rules", good},
		wantOut: good + ": ok, 1 rule of its own, 5 in all\n",
	}, {
		name: "every mistake",
		args: []string{"--rules", bad},
		code: 1,
		wantErr: bad + `:3: rule "home-wifi": when: line 1, column 24: unknown name linx
 | link.type == "wifi" && linx
 | .......................^
` + bad + `:4: rule "home-wifi": flags: unknown endpoint flag "turbo"
`,
		wantReturn: "checking rules: 2 mistakes in " + bad,
	}, {
		name:       "missing file",
		args:       []string{"--rules", filepath.Join(dir, "none.toml")},
		code:       1,
		wantReturn: "reading rules: open " + filepath.Join(dir, "none.toml") + ": no such file or directory",
	}, {
		name:       "stray argument",
		args:       []string{good},
		code:       255,
		wantErr:    "usage: mptcp-autopm check [--rules FILE]\n",
		wantReturn: `unexpected argument "` + good + `"`,
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runCheck(&out, &errOut, tt.args)
			checkExit(t, err, tt.code, tt.wantReturn)
			if diff := cmp.Diff(tt.wantOut, out.String()); diff != "" {
				t.Errorf("unexpected stdout (-want +got):\n%s", diff)
			}

			got := errOut.String()
			if tt.code == 255 {
				got = got[:min(len(got), len(tt.wantErr))]
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("unexpected stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// checkExit checks the error a command returned and its exit code.
func checkExit(t *testing.T, err error, code int, msg string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}

		return
	}

	var ee *exitError
	if !errors.As(err, &ee) {
		t.Fatalf("got error %v, want exit code %d", err, code)
	}
	if ee.code != code || ee.Error() != msg {
		t.Errorf("got exit %d %q, want %d %q", ee.code, ee.Error(),
			code, msg)
	}
}

func TestRulesCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.toml")
	writeRulesFile(t, path, "[limits]\nsubflows = 5\n\n[[rule]]\nname = 'no-eth0'\nwhen = 'link.name == \"eth0\"'\nskip = true\n")

	var out, errOut bytes.Buffer
	if err := runRules(&out, &errOut, []string{"--rules", path}); err != nil {
		t.Fatalf("printing rules: %v", err)
	}

	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(set.String(), out.String()); diff != "" {
		t.Errorf("unexpected output (-want +got):\n%s", diff)
	}

	for _, want := range []string{"subflows = 5\n", "# " + path + ":4\n",
		"name = \"wifi-backup\""} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func writeRulesFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
