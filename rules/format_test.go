package rules

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestStringParses checks that what `mptcp-autopm rules` prints loads back
// as the same rules and settings.
func TestStringParses(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{name: "embedded only", data: ""},
		{name: "S10", data: s10},
		{name: "everything", data: `
[settings]
resync_interval = "5s"
manage = "all"
[settings.hygiene]
allow_ula = true
[[settings.type]]
match = "it's*"
type = "wifi"
[limits]
subflows = 3
add_addr_accepted = "keep"

[[rule]]
name = "quote's \"name\""
when = "link.name == \"a'b\" && link.kind != 'x'"
flags = ["signal", "backup"]
port = 443

[[rule]]
name = "multi-line"
when = '''
link.up &&
  addr.family == 6'''
flags = []

[[rule]]
name = "tab\tand\\backslash"
when = "link.name == \"\t\" || link.name endsWith '\\\\'"
skip = true
`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse("rules.toml", []byte(tt.data))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}

			checkRoundTrip(t, set)
		})
	}
}

// checkRoundTrip parses set's text and compares what it gets with set.
func checkRoundTrip(t *testing.T, set *Set) {
	t.Helper()
	text := set.String()
	again, err := Parse("effective.toml", []byte(text))
	if err != nil {
		t.Fatalf("parsing the text of the rules: %v\n%s", err, text)
	}

	opts := cmp.Options{
		cmpopts.IgnoreFields(Rule{}, "File", "Line"),
		cmpopts.IgnoreUnexported(Rule{}),
		cmpopts.EquateEmpty(),
	}
	if diff := cmp.Diff(set.Rules(), again.Rules(), opts); diff != "" {
		t.Errorf("unexpected rules after a round trip (-want +got):\n%s\n%s",
			diff, text)
	}

	want := set.Settings()
	want.NoEmbedded = true
	if diff := cmp.Diff(want, again.Settings(), opts); diff != "" {
		t.Errorf("unexpected settings after a round trip (-want +got):\n%s",
			diff)
	}
}

func TestStringOrigins(t *testing.T) {
	set, err := Parse("/etc/mptcp-autopm/rules.toml", []byte(s10))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}

	text := set.String()
	for _, want := range []string{
		"# /etc/mptcp-autopm/rules.toml:2\n[[rule]]\nname = \"no-eth0\"\n",
		"# (embedded):19\n[[rule]]\nname = \"wifi-backup\"\n",
		"# /etc/mptcp-autopm/rules.toml uses the embedded rules",
		"# resync_interval = \"30s\" (the default)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rules text lacks %q:\n%s", want, text)
		}
	}
}
