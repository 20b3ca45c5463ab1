package rules

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// exampleCases are, for each file of examples/rules, addresses and what the
// file decides for them. Every file there must have cases.
var exampleCases = map[string][]struct {
	name string
	env  *Env
	want Decision
}{
	"laptop.toml": {{
		name: "docked ethernet",
		env:  newEnv("enx0c37", "ethernet", "192.0.2.10", uplink{"enx0c37", "ethernet", 4}, wlan0v4),
		want: named(subflow, "other"),
	}, {
		name: "docked wifi",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", uplink{"enx0c37", "ethernet", 4}, wlan0v4),
		want: named(subflowBackup, "wifi-backup"),
	}, {
		name: "wifi with a tethered phone only",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", uplink{"usb0", "wwan", 4}, wlan0v4),
		want: named(subflow, "wifi"),
	}, {
		name: "tethered phone",
		env:  newEnv("usb0", "wwan", "172.20.10.2", uplink{"usb0", "wwan", 4}, wlan0v4),
		want: named(subflowBackup, "cellular"),
	}, {
		name: "vpn",
		env:  newEnv("wg0", "other", "10.8.0.2", wlan0v4),
		want: Decision{Rule: "no-vpn", Skip: true},
	}, {
		name: "guest wifi",
		env:  newEnv("wlan0", "wifi", "10.99.3.4", wlan0v4),
		want: Decision{Rule: "no-guest-wifi", Skip: true},
	}},
	"phone.toml": {{
		name: "wifi",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4, uplink{"rmnet_data0", "wwan", 4}),
		want: named(subflow, "wifi"),
	}, {
		name: "cellular beside wifi",
		env:  newEnv("rmnet_data0", "wwan", "100.64.0.2", wlan0v4, uplink{"rmnet_data0", "wwan", 4}),
		want: named(subflowBackup, "cellular"),
	}, {
		name: "cellular alone",
		env:  newEnv("rmnet_data0", "wwan", "100.64.0.2", uplink{"rmnet_data0", "wwan", 4}),
		want: named(subflow, "cellular-alone"),
	}, {
		name: "IPv6 cellular beside IPv4-only wifi",
		env:  newEnv("rmnet_data0", "wwan", "2001:db8:c::2", wlan0v4, uplink{"rmnet_data0", "wwan", 6}),
		want: named(subflow, "cellular-alone"),
	}, {
		name: "voice",
		env:  newEnv("rmnet_ims0", "wwan", "2001:db8:1::2", uplink{"rmnet_ims0", "wwan", 6}),
		want: Decision{Rule: "no-ims", Skip: true},
	}},
	"edge-router.toml": {{
		name: "fibre",
		env:  newEnv("wan0", "ethernet", "203.0.113.2", uplink{"wan0", "ethernet", 4}),
		want: named(subflow, "wired"),
	}, {
		name: "lte modem",
		env:  newEnv("lte0", "wwan", "100.64.7.9", uplink{"wan0", "ethernet", 4}),
		want: named(subflowBackup, "lte-backup"),
	}, {
		name: "lte stick in router mode",
		env:  newEnv("eth3", "ethernet", "100.72.1.2", uplink{"wan0", "ethernet", 4}),
		want: named(subflowBackup, "cgnat-backup"),
	}, {
		name: "lan bridge",
		env:  newEnv("br-lan", "bridge", "192.168.50.1"),
		want: Decision{Rule: "no-lan", Skip: true},
	}, {
		name: "lan port",
		env: func() *Env {
			e := newEnv("lan1", "ethernet", "192.168.50.7")
			e.Link.Master = "br-lan"

			return e
		}(),
		want: Decision{Rule: "no-lan", Skip: true},
	}, {
		name: "anything else: no endpoint",
		env:  newEnv("eth9", "ethernet", "192.0.2.9"),
		want: Decision{},
	}},
	"server.toml": {{
		name: "main address",
		env:  newEnv("eth0", "ethernet", "203.0.113.10"),
		want: Decision{Rule: "main-address", Skip: true},
	}, {
		name: "second uplink with a port",
		env:  newEnv("eth1", "ethernet", "198.51.100.10"),
		want: Decision{Rule: "announce-v4-port", Flags: pm.FlagSignal,
			Port: 8443},
	}, {
		name: "IPv6",
		env:  newEnv("eth1", "ethernet", "2001:db8:5::10"),
		want: Decision{Rule: "announce-v6", Flags: pm.FlagSignal},
	}, {
		name: "docker bridge: no endpoint",
		env:  newEnv("docker0", "bridge", "172.17.0.1"),
		want: Decision{},
	}},
}

// exampleSettings are the settings of each file of examples/rules.
var exampleSettings = map[string]Settings{
	"laptop.toml": {ResyncInterval: DefaultResync, Types: []TypeOverride{
		{Glob: "usb*", Type: "wwan"}, {Glob: "enx*", Type: "ethernet"}}},
	"phone.toml": {Types: []TypeOverride{
		{Glob: "rmnet*", Type: "wwan"}, {Glob: "wlan*", Type: "wifi"}}},
	"edge-router.toml": {
		ManageAll:  true,
		NoEmbedded: true,
		Types:      []TypeOverride{{Glob: "lte*", Type: "wwan"}},
		Limits: LimitsSetting{
			Subflows:        Limit{Mode: LimitFixed, Value: 8},
			AddAddrAccepted: Limit{Mode: LimitFixed, Value: 2},
		},
	},
	"server.toml": {
		NoEmbedded: true,
		Limits: LimitsSetting{
			Subflows:        Limit{Mode: LimitFixed, Value: 4},
			AddAddrAccepted: Limit{Mode: LimitFixed, Value: 0},
		},
	},
}

// TestExamples loads every file of examples/rules and checks its
// decisions.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/rules/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("finding the examples: %v (%d files)", err, len(files))
	}

	for _, path := range files {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			set, err := Load(path)
			if err != nil {
				t.Fatalf("loading: %v", err)
			}

			if diff := cmp.Diff(exampleSettings[base], set.Settings()); diff != "" {
				t.Errorf("unexpected settings (-want +got):\n%s", diff)
			}

			cases, ok := exampleCases[base]
			if !ok {
				t.Fatalf("no cases for %s in exampleCases", base)
			}

			for _, c := range cases {
				got, err := set.Decide(c.env)
				if err != nil {
					t.Errorf("%s: deciding: %v", c.name, err)
				}

				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("%s: unexpected decision (-want +got):\n%s",
						c.name, diff)
				}
			}

			checkRoundTrip(t, set)
		})
	}
}
