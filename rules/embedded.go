package rules

import (
	_ "embed"
	"sync"
)

// EmbeddedName is the file name of the embedded default rules in origins
// and errors.
const EmbeddedName = "(embedded)"

//go:embed default.toml
var defaultTOML []byte

// Default returns the embedded default rules alone, with default settings:
//
//  1. wifi-backup: a Wi-Fi address gets `subflow backup` while another
//     usable uplink of its family exists whose type is neither wifi nor
//     wwan;
//  2. wifi: any other Wi-Fi address gets `subflow`;
//  3. cellular: a wwan address gets `subflow backup`;
//  4. other: any other address gets `subflow`.
func Default() *Set { return embedded() }

var embedded = sync.OnceValue(func() *Set {
	s, err := parse(EmbeddedName, defaultTOML, nil)
	if err != nil {
		// Tests load the embedded file; this is a build mistake.
		panic("rules: embedded default.toml: " + err.Error())
	}

	return s
})

// DefaultTOML returns the source of the embedded rules, comments included.
func DefaultTOML() []byte { return append([]byte(nil), defaultTOML...) }
