package pm

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func TestErrorText(t *testing.T) {
	dup := &netlink.OpError{
		Op:      "receive",
		Err:     unix.EEXIST,
		Message: "too many addresses or duplicate one: -17",
		Offset:  20,
	}
	ep := Endpoint{Addr: netip.MustParseAddr("192.0.2.10"), Ifindex: 3,
		Flags: FlagSubflow}
	tests := []struct {
		name  string
		err   error
		want  string
		errno error
		inval bool
	}{
		{
			name:  "kernel refusal with extack",
			err:   kernelError("adding endpoint", ep, 0, dup),
			want:  "adding endpoint 192.0.2.10 dev if3: too many addresses or duplicate one: -17: file exists",
			errno: unix.EEXIST,
		},
		{
			name: "by id, wrapped",
			err: fmt.Errorf("reconciling: %w", kernelError("deleting endpoint",
				Endpoint{}, 7, &netlink.OpError{Err: unix.EINVAL, Message: "address not found"})),
			want:  "reconciling: deleting endpoint id 7: address not found: invalid argument",
			errno: unix.EINVAL,
		},
		{
			name: "no extack",
			err: kernelError("flushing endpoints", Endpoint{}, 0,
				&netlink.OpError{Err: unix.EPERM}),
			want:  "flushing endpoints: operation not permitted",
			errno: unix.EPERM,
		},
		{
			name: "port and id",
			err: kernelError("adding endpoint", Endpoint{ID: 4,
				Addr: netip.MustParseAddr("2001:db8::1"), Port: 20001},
				0, &netlink.OpError{Err: unix.EADDRNOTAVAIL,
					Message: "create listen socket error: -99"}),
			want:  "adding endpoint 2001:db8::1 port 20001 id 4: create listen socket error: -99: cannot assign requested address",
			errno: unix.EADDRNOTAVAIL,
		},
		{
			name: "local refusal",
			err: invalid("deleting endpoint", Endpoint{}, 0,
				errors.New("address is needed for deleting id 0 address")),
			want:  "deleting endpoint: address is needed for deleting id 0 address",
			inval: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("unexpected text:\n got %q\nwant %q", got, tt.want)
			}
			if tt.errno != nil && !errors.Is(tt.err, tt.errno) {
				t.Errorf("errors.Is(%v) = false", tt.errno)
			}
			if got := errors.Is(tt.err, ErrInvalid); got != tt.inval {
				t.Errorf("errors.Is(ErrInvalid) = %v, want %v", got, tt.inval)
			}
			var pe *Error
			if !errors.As(tt.err, &pe) {
				t.Errorf("errors.As(*Error) = false")
			}
		})
	}
}

func TestValidateEndpointWithoutPrefix(t *testing.T) {
	e := Endpoint{Addr: netip.MustParseAddr("10.0.0.1"), Flags: FlagSignal | FlagFullmesh}
	err := invalid("adding endpoint", e, 0, validateEndpoint(e))
	want := "adding endpoint 10.0.0.1: flags mustn't have both signal and fullmesh"
	if err.Error() != want {
		t.Errorf("unexpected text:\n got %q\nwant %q", err, want)
	}
	if validateEndpoint(Endpoint{Addr: e.Addr, Flags: FlagSubflow}) != nil {
		t.Errorf("a subflow endpoint was refused")
	}
}

func TestValidateFlagsChange(t *testing.T) {
	for f, ok := range map[Flags]bool{
		0: true, FlagBackup: true, FlagFullmesh | FlagBackup: true,
		FlagSignal: false, FlagSubflow | FlagBackup: false, FlagLaminar: false,
	} {
		err := ValidateFlagsChange(f)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("ValidateFlagsChange(%v) = %v, want ok=%v", f, err, ok)
		}
	}
}
