package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// DefaultStateDir is where the daemon keeps its ownership state; systemd's
// RuntimeDirectory=mptcp-autopm creates it.
const DefaultStateDir = "/run/mptcp-autopm"

// An Owned is the set of endpoint keys that are ours: made or adopted by
// the daemon. It is kept in a file named after the network namespace, so
// that daemons in several namespaces sharing one state directory never
// collide, and so that a restarted daemon knows its endpoints again.
//
// The zero value is an empty set that is never saved.
type Owned struct {
	path string
	keys map[pm.Key]bool
}

// ownedFile is the file's JSON form.
type ownedFile struct {
	Endpoints []ownedKey `json:"endpoints"`
}

type ownedKey struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port,omitempty"`
}

// NetNSID returns the inode number of the calling thread's network
// namespace, which names it uniquely while it exists.
func NetNSID() (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("reading own network namespace: %w", err)
	}

	return st.Ino, nil
}

// OwnedPath is the state file of network namespace nsid in dir.
func OwnedPath(dir string, nsid uint64) string {
	return filepath.Join(dir, fmt.Sprintf("owned-netns-%d.json", nsid))
}

// LoadOwned reads the set kept at path. A missing file is an empty set.
func LoadOwned(path string) (*Owned, error) {
	o := &Owned{path: path, keys: map[pm.Key]bool{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}

	var f ownedFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("reading state %s: %w", path, err)
	}

	for _, k := range f.Endpoints {
		o.keys[pm.Key{Addr: k.Addr, Port: k.Port}] = true
	}

	return o, nil
}

// Has reports whether k is ours.
func (o *Owned) Has(k pm.Key) bool { return o.keys[k] }

// Keys returns the keys, sorted.
func (o *Owned) Keys() []pm.Key {
	keys := make([]pm.Key, 0, len(o.keys))
	for k := range o.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pm.Key) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}

		return int(a.Port) - int(b.Port)
	})

	return keys
}

// Set replaces the set with keys and saves it when it changed. It reports
// whether it changed.
func (o *Owned) Set(keys []pm.Key) (bool, error) {
	next := make(map[pm.Key]bool, len(keys))
	for _, k := range keys {
		next[k] = true
	}
	if mapsEqual(o.keys, next) {
		return false, nil
	}

	o.keys = next

	return true, o.save()
}

func mapsEqual(a, b map[pm.Key]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}

	return true
}

// save writes the set atomically: a temporary file in the same directory,
// synced, then renamed over the old one.
func (o *Owned) save() error {
	if o.path == "" {
		return nil
	}

	f := ownedFile{Endpoints: []ownedKey{}}
	for _, k := range o.Keys() {
		f.Endpoints = append(f.Endpoints, ownedKey{Addr: k.Addr, Port: k.Port})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}

	if err := writeAtomic(o.path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}

	return nil
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	tmp, err := os.CreateTemp(dir, ".owned-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())

	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	return os.Rename(tmp.Name(), path)
}
