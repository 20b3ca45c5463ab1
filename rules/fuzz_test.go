package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no file makes the loader panic, and that the text
// of every set that loads loads back as the same set.
func FuzzParse(f *testing.F) {
	f.Add(defaultTOML)
	f.Add([]byte(s10))
	files, _ := filepath.Glob("../examples/rules/*.toml")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[[rule]]\nname = 'a'\nwhen = 'inCIDR(addr.ip, \"10/8\")'\nskip = true\n"))
	f.Add([]byte("[[rule]]\nname = 'h'\nwhen = 'hasUplink(4, \"wifi\")'\nflags = []\n"))
	f.Add([]byte("[limits]\nsubflows = 9\n[settings]\nresync_interval = '1s'\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse("fuzz.toml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}

			return
		}

		checkRoundTrip(t, set)
		env := newEnv("eth0", "ethernet", "192.0.2.10", eth0v4, wlan0v4)
		if _, err := set.Decide(env); err != nil {
			t.Logf("deciding: %v", err)
		}
	})
}
