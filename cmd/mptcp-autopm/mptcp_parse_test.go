package main

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// testIfindex knows eth0 (3) and wlan0 (4), as a namespace would.
func testIfindex(name string) int32 {
	return map[string]int32{"eth0": 3, "wlan0": 4}[name]
}

// exitOf returns the exit code and message an error leads to, as dispatch
// prints it (without "Error: ").
func exitOf(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, err.Error()
	}

	return 1, err.Error()
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    endpointRequest
		code    int
		message string
	}{
		{
			name: "add with dev id and flags",
			args: "add 10.0.0.2 dev eth0 id 3 subflow backup",
			want: endpointRequest{Verb: verbAdd, IDSet: true, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), Ifindex: 3, ID: 3,
				Flags: pm.FlagSubflow | pm.FlagBackup}},
		},
		{
			name: "add signal port",
			args: "add 10.0.0.2 port 8443 signal",
			want: endpointRequest{Verb: verbAdd, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), Port: 8443, Flags: pm.FlagSignal}},
		},
		{
			name: "add fullmesh laminar ipv6",
			args: "add 2001:db8::1 subflow fullmesh laminar",
			want: endpointRequest{Verb: verbAdd, Endpoint: pm.Endpoint{
				Addr:  addr("2001:db8::1"),
				Flags: pm.FlagSubflow | pm.FlagFullmesh | pm.FlagLaminar}},
		},
		{
			name: "abbreviations as ip takes them",
			args: "a 10.0.0.2 i 4 d wlan0 p 0x10 signal",
			want: endpointRequest{Verb: verbAdd, IDSet: true, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), ID: 4, Ifindex: 4, Port: 16,
				Flags: pm.FlagSignal}},
		},
		{
			name: "dev of a vanished interface by ifN",
			args: "add 10.0.0.2 dev if77",
			want: endpointRequest{Verb: verbAdd, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), Ifindex: 77}},
		},
		{
			name: "inet_aton forms",
			args: "add 0x0a.0.0.077",
			want: endpointRequest{Verb: verbAdd, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.63")}},
		},
		{
			name: "short inet form",
			args: "add 10.1",
			want: endpointRequest{Verb: verbAdd, Endpoint: pm.Endpoint{
				Addr: addr("10.1.0.0")}},
		},
		{
			name: "last address and id win",
			args: "add 10.0.0.1 10.0.0.2 id 1 id 2 nobackup",
			want: endpointRequest{Verb: verbAdd, IDSet: true, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), ID: 2}},
		},
		{
			name: "delete by id",
			args: "delete id 3",
			want: endpointRequest{Verb: verbDelete, IDSet: true,
				Endpoint: pm.Endpoint{ID: 3}},
		},
		{
			name: "delete id 0 with address",
			args: "del id 0 10.0.0.2",
			want: endpointRequest{Verb: verbDelete, IDSet: true,
				Endpoint: pm.Endpoint{Addr: addr("10.0.0.2")}},
		},
		{
			name: "change by id",
			args: "change id 3 nobackup",
			want: endpointRequest{Verb: verbChange, IDSet: true,
				Endpoint: pm.Endpoint{ID: 3}},
		},
		{
			name: "change by address",
			args: "change 10.0.0.2 fullmesh",
			want: endpointRequest{Verb: verbChange, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), Flags: pm.FlagFullmesh}},
		},
		{
			name: "change by address and port",
			args: "c 10.0.0.2 port 443 backup nofullmesh",
			want: endpointRequest{Verb: verbChange, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.2"), Port: 443, Flags: pm.FlagBackup}},
		},
		{
			name: "no verb shows the table",
			args: "",
			want: endpointRequest{Verb: verbShow, Dump: true},
		},
		{
			name: "show",
			args: "show",
			want: endpointRequest{Verb: verbShow, Dump: true},
		},
		{
			name: "show id",
			args: "s id 3",
			want: endpointRequest{Verb: verbShow, IDSet: true,
				Endpoint: pm.Endpoint{ID: 3}},
		},
		{
			name: "show address asks the kernel by id 0",
			args: "show 10.0.0.1",
			want: endpointRequest{Verb: verbShow, Endpoint: pm.Endpoint{
				Addr: addr("10.0.0.1")}},
		},
		{
			name: "flush ignores what follows",
			args: "flush whatever 1",
			want: endpointRequest{Verb: verbFlush},
		},
		{
			name: "add without address", args: "add id 3 subflow",
			code: 255, message: `argument "ADDRESS" is required`,
		},
		{
			name: "signal and fullmesh", args: "add 10.0.0.8 signal fullmesh",
			code: 255, message: `argument "fullmesh" is wrong: flags mustn't have both signal and fullmesh`,
		},
		{
			name: "port without signal", args: "add 10.0.0.8 port 5 subflow",
			code: 255, message: `argument "port" is wrong: flags must have signal when using port`,
		},
		{
			name: "change a role flag", args: "change id 3 signal",
			code: 255, message: `argument "signal" is wrong: invalid flags, backup and fullmesh only`,
		},
		{
			name: "change port with id", args: "change id 3 port 5 backup",
			code: 255, message: `argument "port" is wrong: port can't be used with id`,
		},
		{
			name: "delete address with non-zero id", args: "delete id 3 10.0.0.2",
			code: 255, message: `argument "ADDRESS" is wrong: invalid for non-zero id address`,
		},
		{
			name: "delete id 0 without address", args: "delete id 0",
			code: 255, message: `argument "ID" is wrong: address is needed for deleting id 0 address`,
		},
		{
			name: "delete without id", args: "delete 10.0.0.2",
			code: 255, message: `argument "ID" is required`,
		},
		{
			name: "id out of range", args: "add 10.0.0.6 id 256",
			code: 255, message: `argument "256" is wrong: invalid ID`,
		},
		{
			name: "negative id", args: "add 10.0.0.6 id -1",
			code: 255, message: `argument "-1" is wrong: invalid ID`,
		},
		{
			name: "bad port", args: "add 10.0.0.6 port 65536 signal",
			code: 255, message: `argument "65536" is wrong: expected port`,
		},
		{
			name: "unknown device", args: "add 10.0.0.6 dev nope",
			code: 255, message: `argument "nope" is wrong: device does not exist`,
		},
		{
			name: "invalid device name", args: "add 10.0.0.6 dev a/b",
			code: 255, message: `argument "a/b" is wrong: invalid interface name`,
		},
		{
			name: "keyword without value", args: "add 10.0.0.6 id",
			code: 255, message: `Command line is not complete. Try option "help"`,
		},
		{
			name: "unknown verb", args: "bogus",
			code: 255, message: `Command "bogus" is unknown, try "mptcp-autopm help".`,
		},
		{
			name: "implicit is refused as ip 6.1 does", args: "add 10.0.0.1 implicit",
			code: 1, message: `any valid address is expected rather than "implicit".`,
		},
		{
			name: "address with zone", args: "add fe80::1%lo",
			code: 1, message: `any valid address is expected rather than "fe80::1%lo".`,
		},
		{
			name: "bad address before bad device", args: "add foo dev nope",
			code: 1, message: `any valid address is expected rather than "foo".`,
		},
		{
			name: "octet out of range", args: "add 10.0.0.256",
			code: 1, message: `any valid address is expected rather than "10.0.0.256".`,
		},
		{
			name: "default is no endpoint address", args: "add default",
			code: 1, message: `any valid address is expected rather than "default".`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o options
			got, err := parseEndpoint(newScanner(strings.Fields(tt.args), &o), testIfindex)
			code, msg := exitOf(err)
			if code != tt.code || msg != tt.message {
				t.Fatalf("unexpected error: got exit %d %q, want exit %d %q",
					code, msg, tt.code, tt.message)
			}
			if err != nil {
				return
			}

			if diff := cmp.Diff(tt.want, got, cmp.Comparer(
				func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("unexpected request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	u := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name    string
		args    string
		want    limitsRequest
		code    int
		message string
	}{
		{name: "no verb shows", args: "", want: limitsRequest{}},
		{name: "show", args: "show", want: limitsRequest{}},
		{name: "show ignores limits", args: "show subflows 3", want: limitsRequest{}},
		{
			name: "set both, singular subflow",
			args: "set subflow 4 add_addr_accepted 2",
			want: limitsRequest{Set: true, Subflows: u(4), AddAddrAccepted: u(2)},
		},
		{
			name: "set subflows only",
			args: "set subflows 8",
			want: limitsRequest{Set: true, Subflows: u(8)},
		},
		{
			name: "abbreviated keywords, s is set",
			args: "s add 1 s 0",
			want: limitsRequest{Set: true, Subflows: u(0), AddAddrAccepted: u(1)},
		},
		{
			name: "above the kernel's maximum is the kernel's to refuse",
			args: "set subflows 9",
			want: limitsRequest{Set: true, Subflows: u(9)},
		},
		{name: "set nothing", args: "set", want: limitsRequest{Set: true}},
		{
			name: "unknown limit", args: "set bogus 1",
			code: 255, message: `argument "bogus" is wrong: unknown limit`,
		},
		{
			name: "bad number", args: "set subflows x",
			code: 255, message: `argument "x" is wrong: invalid subflows`,
		},
		{
			name: "bad number after abbreviation", args: "set add -2",
			code: 255, message: `argument "-2" is wrong: invalid add_addr_accepted`,
		},
		{
			name: "missing value", args: "set subflows",
			code: 255, message: `Command line is not complete. Try option "help"`,
		},
		{
			name: "unknown verb", args: "get",
			code: 255, message: `Command "get" is unknown, try "mptcp-autopm help".`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o options
			got, err := parseLimits(newScanner(strings.Fields(tt.args), &o))
			code, msg := exitOf(err)
			if code != tt.code || msg != tt.message {
				t.Fatalf("unexpected error: got exit %d %q, want exit %d %q",
					code, msg, tt.code, tt.message)
			}
			if err != nil {
				return
			}

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptionsAnywhere(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    options
		verb    endpointVerb
		code    int
		message string
	}{
		{
			name: "before the verb",
			args: "-n ns1 -j show",
			want: options{netns: "ns1", json: true},
			verb: verbShow,
		},
		{
			name: "after the arguments, long forms",
			args: "add 10.0.0.1 --netns ns2 --json --pretty signal",
			want: options{netns: "ns2", json: true, pretty: true},
			verb: verbAdd,
		},
		{
			name: "ip's single-dash long forms and prefixes",
			args: "-netns ns3 -js -pre -time show",
			want: options{netns: "ns3", json: true, pretty: true, timestamp: true},
			verb: verbShow,
		},
		{
			name: "tshort",
			args: "-ts show",
			want: options{timestamp: true, tshort: true},
			verb: verbShow,
		},
		{
			name: "a value is not an option",
			args: "show -n -j",
			want: options{netns: "-j"},
			verb: verbShow,
		},
		{
			name: "unknown option", args: "show -x",
			code: 255, message: `Option "-x" is unknown, try "mptcp-autopm help".`,
		},
		{
			name: "netns without name", args: "show -n",
			code: 255, message: `Command line is not complete. Try option "help"`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o options
			got, err := parseEndpoint(newScanner(strings.Fields(tt.args), &o), testIfindex)
			code, msg := exitOf(err)
			if code != tt.code || msg != tt.message {
				t.Fatalf("unexpected error: got exit %d %q, want exit %d %q",
					code, msg, tt.code, tt.message)
			}
			if err != nil {
				return
			}

			if got.Verb != tt.verb {
				t.Errorf("unexpected verb: got %d, want %d", got.Verb, tt.verb)
			}
			if diff := cmp.Diff(tt.want, o, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("unexpected options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitGlobal(t *testing.T) {
	tests := []struct {
		name  string
		args  string
		index int
		want  options
	}{
		{name: "command first", args: "endpoint show", index: 0},
		{name: "ip order", args: "-n X -j endpoint show", index: 3,
			want: options{netns: "X", json: true}},
		{name: "double dash ends options", args: "-j -- endpoint", index: 2,
			want: options{json: true}},
		{name: "options only", args: "-p", index: 1, want: options{pretty: true}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, o, err := splitGlobal(strings.Fields(tt.args))
			if err != nil {
				t.Fatalf("splitGlobal: %v", err)
			}
			if i != tt.index {
				t.Errorf("unexpected command index: got %d, want %d", i, tt.index)
			}
			if diff := cmp.Diff(tt.want, o, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("unexpected options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMonitor(t *testing.T) {
	var o options
	if err := parseMonitor(newScanner([]string{"-t", "-j"}, &o)); err != nil {
		t.Fatalf("monitor -t -j: %v", err)
	}
	if !o.timestamp || !o.json {
		t.Errorf("unexpected options after monitor -t -j: %+v", o)
	}

	err := parseMonitor(newScanner([]string{"x"}, &o))
	if code, msg := exitOf(err); code != 255 ||
		msg != `Command "x" is unknown, try "mptcp-autopm help".` {
		t.Errorf("unexpected error for monitor x: exit %d %q", code, msg)
	}
}

func TestStrtoul(t *testing.T) {
	tests := []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"0", 255, 0, true},
		{"255", 255, 255, true},
		{"256", 255, 0, false},
		{"0x1f", 255, 31, true},
		{"010", 255, 8, true},
		{"08", 255, 0, false},
		{"-0", 255, 0, true},
		{"-1", 0xffffffff, 0, false},
		{"+7", 255, 7, true},
		{"", 255, 0, false},
		{"3x", 255, 0, false},
		{"0x", 255, 0, false},
		{"99999999999999999999999", 0xffffffff, 0, false},
		{"4294967295", 0xffffffff, 4294967295, true},
	}

	for _, tt := range tests {
		got, ok := parseUint(tt.in, tt.max)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseUint(%q, %d) = %d, %t; want %d, %t",
				tt.in, tt.max, got, ok, tt.want, tt.ok)
		}
	}
}
