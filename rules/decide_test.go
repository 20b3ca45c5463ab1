package rules

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// uplink describes one usable uplink for an Env.
type uplink struct {
	name, typ string
	family    int
}

// newEnv returns the Env of an eligible address ip on link name of type
// typ, with the given usable uplinks on the host.
func newEnv(name, typ, ip string, ups ...uplink) *Env {
	family := 4
	if strings.Contains(ip, ":") {
		family = 6
	}

	env := &Env{
		Link: Link{Name: name, Index: 2, Type: typ, Up: true,
			Carrier: true, OperState: "up", MTU: 1500},
		Addr: Addr{IP: ip, Family: family, PrefixLen: 24,
			Scope: "global", PreferredLft: -1, ValidLft: -1,
			Eligible: true},
		Route: Route{Default: true, Metric: 100, Gateway: ""},
	}
	for _, u := range ups {
		env.Host.Uplinks = append(env.Host.Uplinks,
			Uplink{Name: u.name, Type: u.typ, Family: u.family})
	}

	return env
}

var (
	eth0v4  = uplink{"eth0", "ethernet", 4}
	eth0v6  = uplink{"eth0", "ethernet", 6}
	wlan0v4 = uplink{"wlan0", "wifi", 4}
	wlan1v4 = uplink{"wlan1", "wifi", 4}
	wwan0v4 = uplink{"wwan0", "wwan", 4}
	usb0v4  = uplink{"usb0", "ethernet", 4}
)

var (
	subflow       = Decision{Flags: pm.FlagSubflow}
	subflowBackup = Decision{Flags: pm.FlagSubflow | pm.FlagBackup}
)

// named returns d decided by rule.
func named(d Decision, rule string) Decision {
	d.Rule = rule

	return d
}

func TestDecideDefault(t *testing.T) {
	tests := []struct {
		name string
		env  *Env
		want Decision
	}{{
		name: "S1 docked: ethernet",
		env:  newEnv("eth0", "ethernet", "192.0.2.10", eth0v4, wlan0v4),
		want: named(subflow, "other"),
	}, {
		name: "S1 docked: wifi is a backup",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", eth0v4, wlan0v4),
		want: named(subflowBackup, "wifi-backup"),
	}, {
		name: "S2 undocked: wifi alone",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4),
		want: named(subflow, "wifi"),
	}, {
		name: "S16 phone: cellular is no reason for wifi to back up",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4, wwan0v4),
		want: named(subflow, "wifi"),
	}, {
		name: "S16 phone: cellular is a backup",
		env:  newEnv("wwan0", "wwan", "100.64.0.2", wlan0v4, wwan0v4),
		want: named(subflowBackup, "cellular"),
	}, {
		name: "S16 wifi gone: cellular stays a backup",
		env:  newEnv("wwan0", "wwan", "100.64.0.2", wwan0v4),
		want: named(subflowBackup, "cellular"),
	}, {
		name: "wifi and an ethernet uplink of the other family",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4, eth0v6),
		want: named(subflow, "wifi"),
	}, {
		name: "IPv6 wifi with an IPv6 ethernet uplink",
		env: newEnv("wlan0", "wifi", "2001:db8::20", eth0v6,
			uplink{"wlan0", "wifi", 6}),
		want: named(subflowBackup, "wifi-backup"),
	}, {
		name: "two wifi links back neither up",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4, wlan1v4),
		want: named(subflow, "wifi"),
	}, {
		name: "wifi's own link is not another uplink",
		env: newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4,
			uplink{"wlan0", "ethernet", 4}),
		want: named(subflow, "wifi"),
	}, {
		name: "wifi with a tethered ethernet uplink",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4, usb0v4),
		want: named(subflowBackup, "wifi-backup"),
	}, {
		name: "S5 usb ethernet",
		env:  newEnv("eth1", "ethernet", "192.0.2.50", usb0v4, wlan0v4),
		want: named(subflow, "other"),
	}, {
		name: "any other type",
		env:  newEnv("tun0", "tunnel", "203.0.113.7"),
		want: named(subflow, "other"),
	}}

	set := Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Decide(tt.env)
			if err != nil {
				t.Fatalf("deciding: %v", err)
			}

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected decision (-want +got):\n%s", diff)
			}
		})
	}
}

// s10 is the rules file of scenario S10: one rule that keeps MPTCP off
// eth0, with the embedded rules after it.
const s10 = `
[[rule]]
name = "no-eth0"
when = 'link.name == "eth0"'
skip = true
`

func TestDecideUserFirst(t *testing.T) {
	set, err := Parse("rules.toml", []byte(s10))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}

	tests := []struct {
		name string
		env  *Env
		want Decision
	}{{
		name: "S10 eth0 is skipped",
		env:  newEnv("eth0", "ethernet", "192.0.2.10", eth0v4, wlan0v4),
		want: Decision{Rule: "no-eth0", Skip: true},
	}, {
		name: "S10 skipped eth0 is still an uplink: wifi backs up",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", eth0v4, wlan0v4),
		want: named(subflowBackup, "wifi-backup"),
	}, {
		name: "embedded rules follow",
		env:  newEnv("eth1", "ethernet", "192.0.2.50", wlan0v4),
		want: named(subflow, "other"),
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Decide(tt.env)
			if err != nil {
				t.Fatalf("deciding: %v", err)
			}

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNoEmbedded(t *testing.T) {
	const data = `
[settings]
embedded_rules = false

[[rule]]
name = "wired"
when = 'link.type == "ethernet"'
flags = ["subflow", "fullmesh"]
`
	set, err := Parse("rules.toml", []byte(data))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}

	tests := []struct {
		name string
		env  *Env
		want Decision
	}{{
		name: "match",
		env:  newEnv("eth0", "ethernet", "192.0.2.10", eth0v4),
		want: Decision{Rule: "wired",
			Flags: pm.FlagSubflow | pm.FlagFullmesh},
	}, {
		name: "no match: no endpoint",
		env:  newEnv("wlan0", "wifi", "198.51.100.20", wlan0v4),
		want: Decision{},
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Decide(tt.env)
			if err != nil {
				t.Fatalf("deciding: %v", err)
			}

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideRuntimeError checks that a rule failing at run time counts as
// not matching and is reported with its name and origin.
func TestDecideRuntimeError(t *testing.T) {
	const data = `[settings]
embedded_rules = false

[[rule]]
name = "first-uplink"
when = 'host.uplinks[0].name == link.name'
flags = ["subflow"]

[[rule]]
name = "computed-cidr"
when = 'inCIDR(addr.ip, link.name)'
flags = ["subflow"]

[[rule]]
name = "rest"
when = 'true'
flags = ["subflow", "backup"]
`
	set, err := Parse("rules.toml", []byte(data))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}

	got, err := set.Decide(newEnv("eth0", "ethernet", "192.0.2.10"))
	if diff := cmp.Diff(named(subflowBackup, "rest"), got); diff != "" {
		t.Errorf("unexpected decision (-want +got):\n%s", diff)
	}

	if err == nil {
		t.Fatal("no error from rules that failed")
	}

	msg := err.Error()
	for _, want := range []string{
		`evaluating rule "first-uplink" (rules.toml:4): `,
		`evaluating rule "computed-cidr" (rules.toml:9): inCIDR: `,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestInCIDR(t *testing.T) {
	tests := []struct {
		when string
		ip   string
		want bool
	}{
		{`inCIDR(addr.ip, "192.0.2.0/24")`, "192.0.2.10", true},
		{`inCIDR(addr.ip, "192.0.2.0/24")`, "198.51.100.1", false},
		{`inCIDR(addr.ip, "2001:db8::/32")`, "2001:db8:1::10", true},
		{`inCIDR(addr.ip, "2001:db8::/32")`, "192.0.2.10", false},
		{`inCIDR(addr.ip, "192.0.2.0/24")`, "::ffff:192.0.2.10", true},
		{`inCIDR(route.gateway, "192.0.2.0/24")`, "192.0.2.10", false},
	}

	for _, tt := range tests {
		t.Run(tt.when+" "+tt.ip, func(t *testing.T) {
			data := "[settings]\nembedded_rules = false\n[[rule]]\n" +
				"name = 'r'\nwhen = '" + tt.when + "'\nskip = true\n"
			set, err := Parse("rules.toml", []byte(data))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}

			d, err := set.Decide(newEnv("eth0", "ethernet", tt.ip))
			if err != nil {
				t.Fatalf("deciding: %v", err)
			}

			if d.Skip != tt.want {
				t.Errorf("inCIDR matched %t, want %t", d.Skip, tt.want)
			}
		})
	}
}

// TestDecideConcurrent runs Decide from several goroutines; run it with
// -race.
func TestDecideConcurrent(t *testing.T) {
	set := Default()
	envs := []*Env{
		newEnv("eth0", "ethernet", "192.0.2.10", eth0v4, wlan0v4),
		newEnv("wlan0", "wifi", "198.51.100.20", eth0v4, wlan0v4),
		newEnv("wwan0", "wwan", "100.64.0.2", wwan0v4),
	}
	want := []string{"other", "wifi-backup", "cellular"}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 100 {
				d, err := set.Decide(envs[i%3])
				if err != nil || d.Rule != want[i%3] {
					t.Errorf("got %+v, %v; want rule %s", d, err,
						want[i%3])

					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkDecide(b *testing.B) {
	set, err := Parse("rules.toml", []byte(s10))
	if err != nil {
		b.Fatal(err)
	}

	env := newEnv("wwan0", "wwan", "100.64.0.2", eth0v4, wlan0v4, wwan0v4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Decide(env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHasUplink(t *testing.T) {
	ups := []uplink{eth0v4, eth0v6, wlan0v4, wwan0v4}
	tests := []struct {
		when string
		link string
		want bool
	}{
		{`hasUplink(4)`, "wlan0", true},
		{`hasUplink(4, "ethernet")`, "wlan0", true},
		{`hasUplink(4, "ethernet")`, "eth0", false},
		{`hasUplink(6, "wifi", "wwan")`, "eth0", false},
		{`hasUplink(4, "wifi", "wwan")`, "eth0", true},
		{`hasUplink(0, "ethernet")`, "wwan0", true},
		{`hasUplink(addr.family, "bond")`, "wlan0", false},
		{`hasUplink(6)`, "eth0", false},
	}

	for _, tt := range tests {
		t.Run(tt.when+" on "+tt.link, func(t *testing.T) {
			data := "[settings]\nembedded_rules = false\n[[rule]]\n" +
				"name = 'r'\nwhen = '" + tt.when + "'\nskip = true\n"
			set, err := Parse("rules.toml", []byte(data))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}

			d, err := set.Decide(newEnv(tt.link, "other", "192.0.2.1", ups...))
			if err != nil {
				t.Fatalf("deciding: %v", err)
			}

			if d.Skip != tt.want {
				t.Errorf("hasUplink gave %t, want %t", d.Skip, tt.want)
			}
		})
	}
}
