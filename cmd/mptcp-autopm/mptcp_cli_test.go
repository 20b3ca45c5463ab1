package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"golang.org/x/sys/unix"
)

// fakeClient records the requests a command sends, in the words of
// ip-mptcp(8), and answers from a table or with err.
type fakeClient struct {
	calls  []string
	table  []pm.Endpoint
	limits pm.Limits
	err    error
}

func (f *fakeClient) call(format string, a ...any) error {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))

	return f.err
}

func (f *fakeClient) Endpoints() ([]pm.Endpoint, error) {
	return f.table, f.call("dump")
}

func (f *fakeClient) Endpoint(id uint8) (pm.Endpoint, error) {
	if err := f.call("get id %d", id); err != nil {
		return pm.Endpoint{}, err
	}
	for _, e := range f.table {
		if e.ID == id {
			return e, nil
		}
	}

	return pm.Endpoint{}, &pm.Error{Op: "getting endpoint", ID: id,
		Message: "address not found", Err: unix.EINVAL}
}

func (f *fakeClient) AddEndpoint(e pm.Endpoint) (pm.Endpoint, error) {
	return e, f.call("add %s port %d id %d flags %s dev %d",
		e.Addr, e.Port, e.ID, e.Flags, e.Ifindex)
}

func (f *fakeClient) DeleteEndpoint(id uint8, a netip.Addr) error {
	return f.call("delete id %d %s", id, a)
}

func (f *fakeClient) SetFlags(e pm.Endpoint) error {
	return f.call("change id %d %s port %d flags %s", e.ID, e.Addr, e.Port, e.Flags)
}

func (f *fakeClient) Flush() error { return f.call("flush") }

func (f *fakeClient) Limits() (pm.Limits, error) {
	return f.limits, f.call("limits")
}

func (f *fakeClient) SetLimitsPartial(subflows, accepted *uint32) error {
	show := func(p *uint32) string {
		if p == nil {
			return "-"
		}

		return fmt.Sprint(*p)
	}

	return f.call("set limits subflows %s add_addr_accepted %s",
		show(subflows), show(accepted))
}

func (f *fakeClient) Close() error { return nil }

// fakeSession returns a session on f whose namespace has eth0 (3), and
// the output it writes.
func fakeSession(f *fakeClient) (*session, *strings.Builder) {
	var out strings.Builder
	s := &session{
		out:     &out,
		errOut:  io.Discard,
		dial:    func(string) (pmClient, error) { return f, nil },
		ifindex: func(_, name string) int32 { return testIfindex(name) },
		ifname:  func(_ string, i int32) string { return map[int32]string{3: "eth0"}[i] },
	}

	return s, &out
}

func TestEndpointCommand(t *testing.T) {
	table := []pm.Endpoint{
		{ID: 1, Addr: addr("10.0.0.1"), Flags: pm.FlagSubflow, Ifindex: 3},
		{ID: 3, Addr: addr("10.0.0.2"), Flags: pm.FlagSignal, Port: 8443},
	}
	tests := []struct {
		name    string
		args    string
		err     error
		calls   []string
		out     string
		code    int
		message string
	}{
		{
			name:  "add",
			args:  "add 10.0.0.2 dev eth0 id 3 subflow backup",
			calls: []string{"add 10.0.0.2 port 0 id 3 flags subflow backup dev 3"},
		},
		{
			name:  "add signal port",
			args:  "add 10.0.0.2 port 8443 signal",
			calls: []string{"add 10.0.0.2 port 8443 id 0 flags signal dev 0"},
		},
		{
			name:  "delete id",
			args:  "delete id 3",
			calls: []string{"delete id 3 invalid IP"},
		},
		{
			name:  "delete id 0 with address",
			args:  "delete id 0 10.0.0.2",
			calls: []string{"delete id 0 10.0.0.2"},
		},
		{
			name:  "change by id",
			args:  "change id 3 nobackup",
			calls: []string{"change id 3 invalid IP port 0 flags "},
		},
		{
			name:  "change by address",
			args:  "change 10.0.0.2 fullmesh",
			calls: []string{"change id 0 10.0.0.2 port 0 flags fullmesh"},
		},
		{name: "flush", args: "flush", calls: []string{"flush"}},
		{
			name:  "show",
			args:  "show",
			calls: []string{"dump"},
			out:   "10.0.0.1 id 1 subflow dev eth0 \n10.0.0.2 port 8443 id 3 signal \n",
		},
		{
			name:  "show id json",
			args:  "show id 3 -j",
			calls: []string{"get id 3"},
			out:   `[{"address":"10.0.0.2","port":8443,"id":3,"signal":true}]` + "\n",
		},
		{
			name:  "show missing id",
			args:  "show id 9",
			calls: []string{"get id 9"},
			code:  2, message: "address not found.",
		},
		{
			name: "kernel refusal with extack",
			args: "add 10.0.0.1",
			err: &pm.Error{Op: "adding endpoint", Err: unix.EEXIST,
				Message: "too many addresses or duplicate one: -17"},
			calls: []string{"add 10.0.0.1 port 0 id 0 flags  dev 0"},
			code:  2, message: "too many addresses or duplicate one: -17.",
		},
		{
			name:  "kernel refusal without extack",
			args:  "flush",
			err:   &pm.Error{Op: "flushing endpoints", Err: unix.EPERM},
			calls: []string{"flush"},
			code:  2, message: "Operation not permitted.",
		},
		{
			name: "refused by the client on the kernel's rule",
			args: "add 10.0.0.5 port 1 signal subflow",
			err: &pm.Error{Op: "adding endpoint", Local: true, Err: errors.New(
				"flags must have signal and not subflow when using port")},
			calls: []string{"add 10.0.0.5 port 1 id 0 flags signal subflow dev 0"},
			code:  2, message: "flags must have signal and not subflow when using port.",
		},
		{
			name: "usage error sends nothing",
			args: "delete id 3 10.0.0.2",
			code: 255, message: `argument "ADDRESS" is wrong: invalid for non-zero id address`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeClient{table: table, err: tt.err}
			s, out := fakeSession(f)
			code, msg := exitOf(s.endpoint(strings.Fields(tt.args)))
			if code != tt.code || msg != tt.message {
				t.Errorf("unexpected result: got exit %d %q, want exit %d %q",
					code, msg, tt.code, tt.message)
			}
			if diff := cmp.Diff(tt.calls, f.calls); diff != "" {
				t.Errorf("unexpected requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.out, out.String()); diff != "" {
				t.Errorf("unexpected output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitsCommand(t *testing.T) {
	tests := []struct {
		name  string
		args  string
		calls []string
		out   string
	}{
		{name: "show", args: "", calls: []string{"limits"},
			out: "add_addr_accepted 2 subflows 4 \n"},
		{name: "show json", args: "show --json", calls: []string{"limits"},
			out: `{"add_addr_accepted":2,"subflows":4}` + "\n"},
		{name: "set both", args: "set subflow 4 add_addr_accepted 2",
			calls: []string{"set limits subflows 4 add_addr_accepted 2"}},
		{name: "set one", args: "set add_addr_accepted 1",
			calls: []string{"set limits subflows - add_addr_accepted 1"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeClient{limits: pm.Limits{AddAddrAccepted: 2, Subflows: 4}}
			s, out := fakeSession(f)
			if err := s.limits(strings.Fields(tt.args)); err != nil {
				t.Fatalf("limits %s: %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.calls, f.calls); diff != "" {
				t.Errorf("unexpected requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.out, out.String()); diff != "" {
				t.Errorf("unexpected output (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeEvents hands out batches of events, then errors, one per Receive.
type fakeEvents struct {
	batches [][]pm.Event
	errs    []error
}

func (f *fakeEvents) Receive() ([]pm.Event, error) {
	if len(f.batches) > 0 {
		b := f.batches[0]
		f.batches = f.batches[1:]
		return b, nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]

	return nil, err
}

func (f *fakeEvents) Close() error { return nil }

func TestFollowEvents(t *testing.T) {
	closed := event(pm.Event{Type: pm.EventClosed, Token: 0xab}, pm.AttrToken)
	ev := &fakeEvents{
		batches: [][]pm.Event{{closed, closed}},
		errs: []error{
			fmt.Errorf("receiving events: %w", pm.ErrEventsLost),
			errors.New("receiving events: use of closed file"),
		},
	}
	s, out := fakeSession(&fakeClient{})
	s.opts = options{json: true}
	var warnings strings.Builder
	s.errOut = &warnings

	err := s.follow(ev, "", func() time.Time { return time.Unix(0, 0) })
	if code, _ := exitOf(err); code != 2 {
		t.Errorf("unexpected exit for a receive error: got %d (%v), want 2", code, err)
	}

	lost := "netlink receive error No buffer space available (105)\n"
	if warnings.String() != lost {
		t.Errorf("unexpected warning for lost events: got %q, want %q",
			warnings.String(), lost)
	}

	want := strings.Repeat(`{"event":"CLOSED","token":"0xab"}`+"\n", 2)
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("unexpected output (-want +got):\n%s", diff)
	}
}

func TestMissingNetNS(t *testing.T) {
	s, _ := fakeSession(&fakeClient{})
	err := s.limits([]string{"-n", "mpa-no-such-namespace-here"})
	code, msg := exitOf(err)
	want := `Cannot open network namespace "mpa-no-such-namespace-here": No such file or directory`
	if code != 255 || msg != want {
		t.Errorf("unexpected result: got exit %d %q, want exit 255 %q", code, msg, want)
	}
}

func TestLookupCommand(t *testing.T) {
	tests := []struct {
		name string
		want string // the ip command the summary names
	}{
		{"endpoint", "(ip mptcp endpoint)"},
		{"endp", "(ip mptcp endpoint)"},
		{"e", "(ip mptcp endpoint)"},
		{"l", "(ip mptcp limits)"},
		{"limits", "(ip mptcp limits)"},
		{"m", "(ip mptcp monitor)"},
		{"mon", "(ip mptcp monitor)"},
	}

	for _, tt := range tests {
		c, ok := lookupCommand(tt.name)
		if !ok {
			t.Errorf("lookupCommand(%q): not found", tt.name)
			continue
		}
		if !strings.HasSuffix(c.summary, tt.want) {
			t.Errorf("lookupCommand(%q): got %q, want a summary ending %q",
				tt.name, c.summary, tt.want)
		}
	}

	if _, ok := lookupCommand("x"); ok {
		t.Errorf("lookupCommand(%q) found a command", "x")
	}
}
