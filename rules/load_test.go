package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseErrors checks every kind of load error with its exact message.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{{
		name: "toml syntax",
		data: "[[rule]\nname = 'x'\n",
		want: `rules.toml:2:7: expected end of table array name delimiter ']', but got '\n' instead`,
	}, {
		name: "toml type",
		data: "[[rule]]\nname = 'x'\nwhen = 'true'\nflags = 'subflow'\n",
		want: `rules.toml:4: rule.flags: incompatible types: TOML value has type string; destination has type slice`,
	}, {
		name: "unknown key in a rule",
		data: "[[rule]]\nname = 'x'\nwhen = 'true'\nflags = ['subflow']\ncolour = 'red'\n",
		want: `rules.toml:5: rule "x": unknown key colour`,
	}, {
		name: "unknown key in the second rule",
		data: "[[rule]]\nname = 'x'\nwhen = 'true'\nflags = ['subflow']\n\n" +
			"[[rule]]\nname = 'y'\nwhen = 'true'\nskip = true\nflag = ['backup']\n",
		want: `rules.toml:10: rule "y": unknown key flag`,
	}, {
		name: "unknown keys outside rules",
		data: "bogus = 1\n[limits]\nsubflow = 2\n[settings.hygiene]\nallow_lan = true\n",
		want: "rules.toml:1: unknown key bogus\n" +
			"rules.toml:3: unknown key limits.subflow\n" +
			"rules.toml:5: unknown key settings.hygiene.allow_lan",
	}, {
		name: "unknown fact",
		data: "[[rule]]\nname = 'home-wifi'\nwhen = 'link.type == \"wifi\" && linx.up'\nflags = ['subflow']\n",
		want: `rules.toml:3: rule "home-wifi": when: line 1, column 24: unknown name linx
 | link.type == "wifi" && linx.up
 | .......................^`,
	}, {
		name: "unknown field of a fact",
		data: "[[rule]]\nname = 'a'\nwhen = 'link.speed > 100'\nflags = ['subflow']\n",
		want: `rules.toml:3: rule "a": when: line 1, column 6: type rules.Link has no field speed
 | link.speed > 100
 | .....^`,
	}, {
		name: "not a boolean",
		data: "[[rule]]\nname = 'a'\nwhen = 'link.mtu'\nflags = ['subflow']\n",
		want: `rules.toml:3: rule "a": when: expected bool, but got int`,
	}, {
		name: "error on the second line of when",
		data: "[[rule]]\nname = 'a'\nwhen = '''\nlink.up &&\n  link.type = \"wifi\"'''\nflags = ['subflow']\n",
		want: `rules.toml:3: rule "a": when: line 2, column 13: unexpected token Operator("=")
 |   link.type = "wifi"
 | ............^`,
	}, {
		name: "bad literal CIDR",
		data: "[[rule]]\nname = 'a'\nwhen = 'inCIDR(addr.ip, \"10.0.0.0/33\")'\nskip = true\n",
		want: `rules.toml:3: rule "a": when: line 1, column 17: inCIDR: bad CIDR prefix "10.0.0.0/33"
 | inCIDR(addr.ip, "10.0.0.0/33")
 | ................^`,
	}, {
		name: "bad literal IP and CIDR",
		data: "[[rule]]\nname = 'a'\nwhen = 'inCIDR(\"10.1\", \"10/8\")'\nskip = true\n",
		want: `rules.toml:3: rule "a": when: line 1, column 8: inCIDR: bad IP address "10.1"
 | inCIDR("10.1", "10/8")
 | .......^
rules.toml:3: rule "a": when: line 1, column 16: inCIDR: bad CIDR prefix "10/8"
 | inCIDR("10.1", "10/8")
 | ...............^`,
	}, {
		name: "bad literal family and type for hasUplink",
		data: "[[rule]]\nname = 'a'\nwhen = 'hasUplink(5, \"eth\")'\nskip = true\n",
		want: `rules.toml:3: rule "a": when: line 1, column 11: hasUplink: family 5, want 4, 6 or 0
 | hasUplink(5, "eth")
 | ..........^
rules.toml:3: rule "a": when: line 1, column 14: hasUplink: unknown type "eth"
 | hasUplink(5, "eth")
 | .............^`,
	}, {
		name: "hasUplink without a family",
		data: "[[rule]]\nname = 'a'\nwhen = 'hasUplink()'\nskip = true\n",
		want: `rules.toml:3: rule "a": when: line 1, column 1: not enough arguments to call hasUplink
 | hasUplink()
 | ^`,
	}, {
		name: "wrong arguments",
		data: "[[rule]]\nname = 'a'\nwhen = 'inCIDR(addr.ip)'\nskip = true\n",
		want: `rules.toml:3: rule "a": when: line 1, column 1: not enough arguments to call inCIDR
 | inCIDR(addr.ip)
 | ^`,
	}, {
		name: "duplicate name",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['subflow']\n\n" +
			"[[rule]]\nname = 'a'\nwhen = 'false'\nskip = true\n",
		want: `rules.toml:7: rule "a": name: duplicate name, first used at line 1`,
	}, {
		name: "name of an embedded rule",
		data: "[[rule]]\nname = 'wifi'\nwhen = 'true'\nflags = ['subflow']\n",
		want: `rules.toml:2: rule "wifi": name: an embedded rule has this name; choose another or set embedded_rules = false`,
	}, {
		name: "unknown flag",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['subflow', 'turbo']\n",
		want: `rules.toml:4: rule "a": flags: unknown endpoint flag "turbo"`,
	}, {
		name: "signal and fullmesh",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['signal', 'fullmesh']\n",
		want: `rules.toml:4: rule "a": flags: flags mustn't have both signal and fullmesh`,
	}, {
		name: "implicit",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['subflow', 'implicit']\n",
		want: `rules.toml:4: rule "a": flags: implicit is set by the kernel, not by rules`,
	}, {
		name: "port without signal",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['subflow']\nport = 80\n",
		want: `rules.toml:5: rule "a": port: flags must have signal and not subflow when using port`,
	}, {
		name: "port with signal and subflow",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['signal', 'subflow']\nport = 80\n",
		want: `rules.toml:5: rule "a": port: flags must have signal and not subflow when using port`,
	}, {
		name: "port out of range",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nflags = ['signal']\nport = 70000\n",
		want: `rules.toml:5: rule "a": port: want 1..65535, not 70000`,
	}, {
		name: "no name, no when",
		data: "[[rule]]\nflags = ['subflow']\n",
		want: "rules.toml:1: name: missing\nrules.toml:1: when: missing",
	}, {
		name: "neither flags nor skip",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\n",
		want: `rules.toml:1: rule "a": flags: missing: give flags = [...] or skip = true`,
	}, {
		name: "skip false and no flags",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nskip = false\n",
		want: `rules.toml:1: rule "a": flags: missing: give flags = [...] or skip = true`,
	}, {
		name: "skip with flags and port",
		data: "[[rule]]\nname = 'a'\nwhen = 'true'\nskip = true\nflags = ['subflow']\nport = 1\n",
		want: "rules.toml:5: rule \"a\": flags: not allowed with skip = true\n" +
			"rules.toml:6: rule \"a\": port: not allowed with skip = true",
	}, {
		name: "limits out of range",
		data: "[limits]\nsubflows = 9\nadd_addr_accepted = 'some'\n",
		want: "rules.toml:2: limits.subflows: want an integer 0..8, \"auto\" or \"keep\", not 9\n" +
			"rules.toml:3: limits.add_addr_accepted: want an integer 0..8, \"auto\" or \"keep\", not \"some\"",
	}, {
		name: "limits of the wrong type",
		data: "[limits]\nsubflows = -1\nadd_addr_accepted = true\n",
		want: "rules.toml:2: limits.subflows: want an integer 0..8, \"auto\" or \"keep\", not -1\n" +
			"rules.toml:3: limits.add_addr_accepted: want an integer 0..8, \"auto\" or \"keep\", not true",
	}, {
		name: "resync and manage",
		data: "[settings]\nresync_interval = 'often'\nmanage = 'everything'\n",
		want: "rules.toml:2: settings.resync_interval: want a positive duration such as \"30s\", not \"often\"\n" +
			"rules.toml:3: settings.manage: want \"ours\" or \"all\", not \"everything\"",
	}, {
		name: "negative resync",
		data: "[settings]\nresync_interval = '-1s'\n",
		want: `rules.toml:2: settings.resync_interval: want a positive duration such as "30s", not "-1s"`,
	}, {
		name: "type override",
		data: "[[settings.type]]\nmatch = 'wlan*'\ntype = 'wifi'\n\n" +
			"[[settings.type]]\nmatch = 'wl[an'\ntype = 'radio'\n",
		want: "rules.toml:6: settings.type.match: bad glob \"wl[an\"\n" +
			"rules.toml:7: settings.type.type: unknown type \"radio\", want one of [wifi wwan ethernet loopback bridge bond vlan veth tunnel ppp other]",
	}, {
		name: "embedded_rules not a boolean",
		data: "[settings]\nembedded_rules = 'no'\n",
		want: `rules.toml:2: settings.embedded_rules: incompatible types: TOML value has type string; destination has type boolean`,
	}, {
		name: "every error at once, in line order",
		data: "[settings]\nmanage = 'x'\n\n[[rule]]\nname = 'a'\nwhen = 'linx'\n" +
			"flags = ['turbo']\n\n[limits]\nsubflows = 'many'\n",
		want: "rules.toml:2: settings.manage: want \"ours\" or \"all\", not \"x\"\n" +
			"rules.toml:6: rule \"a\": when: line 1, column 1: unknown name linx\n" +
			" | linx\n | ^\n" +
			"rules.toml:7: rule \"a\": flags: unknown endpoint flag \"turbo\"\n" +
			"rules.toml:10: limits.subflows: want an integer 0..8, \"auto\" or \"keep\", not \"many\"",
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse("rules.toml", []byte(tt.data))
			if err == nil {
				t.Fatalf("no error; rules:\n%s", set)
			}

			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("unexpected error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorFields checks that a caller can take an error apart.
func TestErrorFields(t *testing.T) {
	data := "[[rule]]\nname = 'home-wifi'\nwhen = 'link.type == \"wifi\" && linx'\nflags = ['subflow']\n"
	_, err := Parse("rules.toml", []byte(data))

	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is no *Error", err)
	}

	want := &Error{File: "rules.toml", Line: 3, Rule: "home-wifi", Key: "when",
		Msg: "line 1, column 24: unknown name linx\n" +
			" | link.type == \"wifi\" && linx\n" +
			" | .......................^"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("unexpected error (-want +got):\n%s", diff)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.toml")
	if err := os.WriteFile(path, []byte(s10), 0o644); err != nil {
		t.Fatal(err)
	}

	set, err := Load(path)
	if err != nil {
		t.Fatalf("loading: %v", err)
	}

	got := ruleSummaries(set)
	want := []string{path + ":2 no-eth0 skip", "(embedded):19 wifi-backup subflow backup",
		"(embedded):27 wifi subflow", "(embedded):33 cellular subflow backup",
		"(embedded):39 other subflow"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unexpected rules (-want +got):\n%s", diff)
	}

	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loading a missing file: got %v, want ErrNotExist", err)
	}
}

func TestLoadOrDefault(t *testing.T) {
	dir := t.TempDir()
	set, err := loadOrDefault(filepath.Join(dir, "rules.toml"))
	if err != nil {
		t.Fatalf("loading without a file: %v", err)
	}
	if set != Default() {
		t.Errorf("without a file: got rules of %s, want the embedded ones", set.File())
	}

	path := filepath.Join(dir, "rules.toml")
	if err := os.WriteFile(path, []byte("[[rule]]\nname = 'x'\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := loadOrDefault(path); err == nil {
		t.Error("a broken file at the default path loaded")
	}
}

// ruleSummaries renders a set's rules as "ORIGIN NAME ACTION".
func ruleSummaries(s *Set) []string {
	var out []string
	for _, r := range s.Rules() {
		out = append(out, r.Origin()+" "+r.Name+" "+r.Action())
	}

	return out
}

// TestLinesAfterMultiline checks that positions stay right after values
// written over several lines.
func TestLinesAfterMultiline(t *testing.T) {
	data := `[[rule]]
name = "a"
when = """
link.up &&
  link.name in [
"[x"]"""
flags = [
  "subflow",
  "backup", # not "]"
  ]

[[rule]]   # the second
name = "b"
when = 'true'
flags = ["turbo"]
`
	_, err := Parse("rules.toml", []byte(data))
	want := `rules.toml:15: rule "b": flags: unknown endpoint flag "turbo"`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v, want %s", err, want)
	}
}
