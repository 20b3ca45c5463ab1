package rules

import "fmt"

// document is the shape of a rules file. Every field is decoded as what TOML
// gives and checked afterwards, so that one load reports every mistake.
type document struct {
	Rule     []fileRule   `toml:"rule"`
	Limits   fileLimits   `toml:"limits"`
	Settings fileSettings `toml:"settings"`
}

// fileRule is one [[rule]] table. When stays a string until the whole file
// is decoded: compiling inside a TOML unmarshaler makes BurntSushi/toml
// blame the wrong array element.
type fileRule struct {
	Name  string    `toml:"name"`
	When  *string   `toml:"when"`
	Flags *[]string `toml:"flags"`
	Port  *int64    `toml:"port"`
	Skip  *bool     `toml:"skip"`
}

type fileLimits struct {
	Subflows        limitValue `toml:"subflows"`
	AddAddrAccepted limitValue `toml:"add_addr_accepted"`
}

type fileSettings struct {
	ResyncInterval *string     `toml:"resync_interval"`
	Manage         *string     `toml:"manage"`
	EmbeddedRules  *bool       `toml:"embedded_rules"`
	Hygiene        fileHygiene `toml:"hygiene"`
	Type           []fileType  `toml:"type"`
}

type fileHygiene struct {
	AllowLoopback       bool `toml:"allow_loopback"`
	AllowLinkLocal      bool `toml:"allow_link_local"`
	AllowULA            bool `toml:"allow_ula"`
	AllowTemporary      bool `toml:"allow_temporary"`
	AllowDeprecated     bool `toml:"allow_deprecated"`
	AllowNoDefaultRoute bool `toml:"allow_no_default_route"`
}

type fileType struct {
	Match string `toml:"match"`
	Type  string `toml:"type"`
}

// limitValue holds a limit as written: an integer or a string. It takes
// anything so that a wrong type is reported with the key's name rather than
// as a decoding failure.
type limitValue struct {
	set bool
	v   any
}

// UnmarshalTOML implements toml.Unmarshaler.
func (l *limitValue) UnmarshalTOML(v any) error {
	l.set, l.v = true, v

	return nil
}

// limit converts the value to a Limit; an unset value is LimitAuto.
func (l limitValue) limit() (Limit, error) {
	if !l.set {
		return Limit{}, nil
	}

	switch v := l.v.(type) {
	case string:
		switch v {
		case "auto":
			return Limit{Mode: LimitAuto}, nil
		case "keep":
			return Limit{Mode: LimitKeep}, nil
		}
	case int64:
		if v >= 0 && v <= maxLimit {
			return Limit{Mode: LimitFixed, Value: uint32(v)}, nil
		}
	}

	return Limit{}, fmt.Errorf(
		"want an integer 0..%d, \"auto\" or \"keep\", not %s",
		maxLimit, tomlValue(l.v))
}
