package rules

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Settings
	}{{
		name: "empty file",
		data: "",
		want: Settings{},
	}, {
		name: "everything",
		data: `
[settings]
resync_interval = "1m30s"
manage = "all"
embedded_rules = false

[settings.hygiene]
allow_loopback = true
allow_link_local = true
allow_ula = true
allow_temporary = true
allow_deprecated = true
allow_no_default_route = true

[[settings.type]]
match = "wlan*"
type = "wifi"

[[settings.type]]
match = "rmnet_data?"
type = "wwan"

[limits]
subflows = 8
add_addr_accepted = "keep"
`,
		want: Settings{
			ResyncInterval: 90 * time.Second,
			ManageAll:      true,
			NoEmbedded:     true,
			Hygiene: Hygiene{AllowLoopback: true, AllowLinkLocal: true,
				AllowULA: true, AllowTemporary: true,
				AllowDeprecated: true, AllowNoDefaultRoute: true},
			Types: []TypeOverride{{Glob: "wlan*", Type: "wifi"},
				{Glob: "rmnet_data?", Type: "wwan"}},
			Limits: LimitsSetting{
				Subflows:        Limit{Mode: LimitFixed, Value: 8},
				AddAddrAccepted: Limit{Mode: LimitKeep},
			},
		},
	}, {
		name: "the defaults written out",
		data: `
[settings]
manage = "ours"
embedded_rules = true
[limits]
subflows = "auto"
add_addr_accepted = "auto"
`,
		want: Settings{},
	}, {
		name: "zero is a fixed limit",
		data: "[limits]\nadd_addr_accepted = 0\n",
		want: Settings{Limits: LimitsSetting{
			AddAddrAccepted: Limit{Mode: LimitFixed, Value: 0}}},
	}, {
		name: "dotted keys and an inline table",
		data: "settings.hygiene.allow_ula = true\n" +
			"settings.type = [{ match = \"ww*\", type = \"wwan\" }]\n",
		want: Settings{Hygiene: Hygiene{AllowULA: true},
			Types: []TypeOverride{{Glob: "ww*", Type: "wwan"}}},
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse("rules.toml", []byte(tt.data))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}

			if diff := cmp.Diff(tt.want, set.Settings()); diff != "" {
				t.Errorf("unexpected settings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEmbeddedRules checks which rules a file's settings leave in force.
func TestEmbeddedRules(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{{
		name: "empty file: embedded rules only",
		want: []string{"wifi-backup", "wifi", "cellular", "other"},
	}, {
		name: "file rules first",
		data: s10,
		want: []string{"no-eth0", "wifi-backup", "wifi", "cellular",
			"other"},
	}, {
		name: "embedded rules off",
		data: "[settings]\nembedded_rules = false\n" + s10,
		want: []string{"no-eth0"},
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Parse("rules.toml", []byte(tt.data))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}

			var got []string
			for _, r := range set.Rules() {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected rules (-want +got):\n%s", diff)
			}
		})
	}
}
