package rules

import (
	"fmt"
	"testing"
)

func TestUsesMPTCP(t *testing.T) {
	tests := []struct {
		when string
		want bool
	}{
		{`addr.subflows > 0`, true},
		{`addr.subflows_failed >= 3`, true},
		{`link.type == "wifi" && addr.subflows == 0`, true},
		{`$env.addr.subflows > 0`, true},
		{`addr["subflows_failed"] > 0`, true},
		{`addr?.subflows > 0`, true},
		{`toJSON(addr) contains "subflows"`, true},
		{`let a = addr; a.subflows > 0`, true},
		{`toJSON($env) contains "subflows"`, true},
		{`link.type == "wifi"`, false},
		{`addr.family == 4 && inCIDR(addr.ip, "100.64.0.0/10")`, false},
		{`$env.addr.ip != "" && $env.link.up`, false},
		{`link.type == "wwan" && !hasUplink(addr.family, "wifi")`, false},
		{`any(host.uplinks, .family == addr.family && .type == "ethernet")`,
			false},
		{`link.name == "subflows"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			src := fmt.Sprintf("[settings]\nembedded_rules = false\n\n"+
				"[[rule]]\n"+
				"name = \"r\"\nwhen = '%s'\nflags = [\"subflow\"]\n", tt.when)
			set, err := Parse("rules.toml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := set.UsesMPTCP(); got != tt.want {
				t.Errorf("UsesMPTCP() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEmbeddedRulesUseNoMPTCP(t *testing.T) {
	set, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if set.UsesMPTCP() {
		t.Errorf("the embedded rules read MPTCP facts: every MPTCP " +
			"event would cost a reconcile")
	}
}
