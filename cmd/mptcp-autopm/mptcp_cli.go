package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// mptcpUsage is the grammar of the ip-mptcp(8) sub-commands, as `ip mptcp
// help` prints it, plus the options they honour.
const mptcpUsage = `Path manager commands, in ip-mptcp(8)'s grammar and abbreviations:
  mptcp-autopm endpoint add ADDRESS [ dev NAME ] [ id ID ]
                                    [ port NR ] [ FLAG-LIST ]
  mptcp-autopm endpoint delete id ID [ ADDRESS ]
  mptcp-autopm endpoint change [ id ID ] [ ADDRESS ] [ port NR ] CHANGE-OPT
  mptcp-autopm endpoint show [ id ID ]
  mptcp-autopm endpoint flush
  mptcp-autopm limits set [ subflows NR ] [ add_addr_accepted NR ]
  mptcp-autopm limits show
  mptcp-autopm monitor
  FLAG-LIST := [ FLAG-LIST ] FLAG
  FLAG  := [ signal | subflow | backup | fullmesh | laminar ]
  CHANGE-OPT := [ backup | nobackup | fullmesh | nofullmesh ]

Options, before the command or among its arguments:
  -n, --netns NAME   act in the network namespace NAME (ip netns add NAME)
  -j, --json         JSON output
  -p, --pretty       indented JSON
  -t, --timestamp    monitor: a timestamp line before each event
  -ts, --tshort      monitor: a short timestamp before each event`

// mptcpCommands are the ip-mptcp objects in the order ip tries
// abbreviations: "e" is endpoint, "l" limits, "m" monitor.
var mptcpCommands = []string{"endpoint", "limits", "monitor"}

func init() {
	register("endpoint",
		"show and change path-manager endpoints (ip mptcp endpoint)",
		func(args []string) error {
			return newSession(os.Stdout).endpoint(args)
		})
	register("limits",
		"show and set path-manager limits (ip mptcp limits)",
		func(args []string) error {
			return newSession(os.Stdout).limits(args)
		})
	register("monitor",
		"print MPTCP connection events (ip mptcp monitor)",
		func(args []string) error {
			return newSession(os.Stdout).monitor(args)
		})
}

// lookupCommand finds a command by its name or, for the ip-mptcp objects,
// by an abbreviation ip accepts.
func lookupCommand(name string) (command, bool) {
	if c, ok := commands[name]; ok {
		return c, true
	}

	for _, full := range mptcpCommands {
		if matches(name, full) {
			c, ok := commands[full]
			return c, ok
		}
	}

	return command{}, false
}

// pmClient is the part of *pm.Client the sub-commands use.
type pmClient interface {
	Endpoints() ([]pm.Endpoint, error)
	Endpoint(id uint8) (pm.Endpoint, error)
	AddEndpoint(e pm.Endpoint) (pm.Endpoint, error)
	DeleteEndpoint(id uint8, addr netip.Addr) error
	SetFlags(e pm.Endpoint) error
	Flush() error
	Limits() (pm.Limits, error)
	SetLimitsPartial(subflows, addAddrAccepted *uint32) error
	Close() error
}

var _ pmClient = (*pm.Client)(nil)

// A session runs one sub-command: it owns the options, the output and
// the way to reach the kernel, which tests replace.
type session struct {
	out    io.Writer
	errOut io.Writer // warnings that do not end the command
	opts   options

	// dial connects to the path manager of the namespace at path ("" is
	// our own).
	dial func(path string) (pmClient, error)
	// ifindex and ifname map interfaces of the namespace at path.
	ifindex func(path, name string) int32
	ifname  func(path string, i int32) string
}

// newSession returns a session on the real kernel writing to out.
func newSession(out io.Writer) *session {
	var cache map[string]*links
	get := func(path string) *links {
		if cache == nil {
			cache = map[string]*links{}
		}
		if cache[path] == nil {
			cache[path] = &links{netns: path}
		}

		return cache[path]
	}

	return &session{
		out:    out,
		errOut: os.Stderr,
		dial: func(path string) (pmClient, error) {
			if path == "" {
				return pm.Dial(nil)
			}

			return pm.DialNetNS(filepath.Base(path))
		},
		ifindex: func(path, name string) int32 { return get(path).index(name) },
		ifname:  func(path string, i int32) string { return get(path).name(i) },
	}
}

// netnsPath returns the path of the namespace named by -n, checking that
// it exists as ip's netns_switch does; "" without -n.
func (s *session) netnsPath() (string, error) {
	name := s.opts.netns
	if name == "" {
		return "", nil
	}

	path := filepath.Join("/run/netns", name)
	_, err := os.Stat(path)
	if filepath.Base(name) != name {
		err = fs.ErrNotExist
	}
	if err != nil {
		return "", usageErrorf("Cannot open network namespace %q: %s",
			name, errnoOf(err))
	}

	return path, nil
}

// errnoOf returns the strerror text of the errno in err, or err's text.
func errnoOf(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "No such file or directory"
	}

	return err.Error()
}

// connect dials the path manager of the namespace the options name.
// ip exits 1 when it cannot reach the generic netlink family.
func (s *session) connect() (pmClient, string, error) {
	path, err := s.netnsPath()
	if err != nil {
		return nil, "", err
	}

	c, err := s.dial(path)
	if err != nil {
		return nil, "", exitWith(1,
			fmt.Errorf("connecting to the path manager: %w", err))
	}

	return c, path, nil
}

// write prints a command's output.
func (s *session) write(text string) error {
	if _, err := io.WriteString(s.out, text); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}

	return nil
}

// scanner returns a scanner over a command's args, which begin with the
// options given before the command: dispatch leaves them there.
func (s *session) scanner(args []string) *scanner {
	return newScanner(args, &s.opts)
}
