package pm

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// These tests send what the exported API refuses, to check how kernel
// refusals come back.

func dialInternal(t *testing.T, tag string) *Client {
	t.Helper()
	ns := nstest.New(t, tag)
	c, err := DialNetNS(ns.Name)
	if err != nil {
		t.Fatalf("dialing %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })

	return c
}

func TestKernelLimitsExtack(t *testing.T) {
	c := dialInternal(t, "extack")
	nine, two := uint32(9), uint32(2)
	data, err := encodeLimits(&two, &nine)
	if err != nil {
		t.Fatal(err)
	}

	err = kernelError("setting limits", Endpoint{}, 0, c.do(cmdSetLimits, data))
	want := "setting limits: limit greater than maximum (8): invalid argument"
	if err.Error() != want {
		t.Errorf("unexpected error:\n got %q\nwant %q", err, want)
	}
	var pe *Error
	if !errors.As(err, &pe) || !errors.Is(err, unix.EINVAL) || pe.Offset != 20 {
		t.Errorf("got %#v, want EINVAL at offset 20", err)
	}

	// Atomic: the valid subflows value was not applied either.
	if l, err := c.Limits(); err != nil || l.Subflows != 2 {
		t.Errorf("limits after the refusal: %v, %v", l, err)
	}
}

func TestKernelFlagRefusals(t *testing.T) {
	c := dialInternal(t, "kflags")
	a := netip.MustParseAddr("10.9.1.1")
	tests := []struct {
		e    Endpoint
		want string
	}{
		{Endpoint{Addr: a, Flags: FlagSignal | FlagFullmesh},
			"adding endpoint 10.9.1.1: flags mustn't have both signal and fullmesh: invalid argument"},
		{Endpoint{Addr: a, Port: 1, Flags: FlagSubflow},
			"adding endpoint 10.9.1.1 port 1: flags must have signal and not subflow when using port: invalid argument"},
		{Endpoint{Addr: a, Flags: FlagImplicit},
			"adding endpoint 10.9.1.1: can't create IMPLICIT endpoint: invalid argument"},
		{Endpoint{Addr: a, Port: 20001, Flags: FlagSignal},
			"adding endpoint 10.9.1.1 port 20001: create listen socket error: -99: cannot assign requested address"},
	}
	for _, tt := range tests {
		data, err := encodeEndpoint(tt.e)
		if err != nil {
			t.Fatal(err)
		}
		err = kernelError("adding endpoint", tt.e, 0, c.do(cmdAddAddr, data))
		if err.Error() != tt.want {
			t.Errorf("unexpected error:\n got %q\nwant %q", err, tt.want)
		}
		// The client refuses the same endpoints before sending, except
		// the non-local port, which only the kernel knows about.
		if tt.e.Port != 20001 && validateEndpoint(tt.e) == nil {
			t.Errorf("Validate accepted %v, which the kernel refuses", tt.e)
		}
	}
}
