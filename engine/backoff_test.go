package engine

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/pm/pmtest"
)

// TestRunRefusalNamesDevice checks that the refusal's log line and status
// name the device as its operation text does, not by ifindex.
func TestRunRefusalNamesDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := pmtest.New()
		wlan := netip.MustParseAddr("198.51.100.20")
		k.Refuse(wlan, unix.EPERM, "refused for the test")
		h := newHarness(t, k, Config{Resync: time.Hour})
		h.send(laptop())

		var line string
		for l := range strings.Lines(h.log.take()) {
			if strings.Contains(l, "level=ERROR") {
				line = l
			}
		}
		if !strings.Contains(line, `op="add 198.51.100.20 subflow backup dev wlan0`) {
			t.Fatalf("no refusal line naming wlan0 in its op: %q", line)
		}
		if strings.Contains(line, "dev if3") ||
			!strings.Contains(line, `err="adding endpoint 198.51.100.20 dev wlan0:`) {
			t.Errorf("refusal error does not name wlan0: %q", line)
		}

		errs := h.e.Status().Errors
		if len(errs) != 1 || !strings.Contains(errs[0].Error, "dev wlan0") {
			t.Errorf("status error does not name wlan0: %+v", errs)
		}
	})
}

func TestNameDevice(t *testing.T) {
	v := &view{snap: laptop().link(30, "wwan0", "wwan").get()}
	refusal := func(ifindex int32) error {
		return &pm.Error{Op: "adding endpoint",
			Endpoint: pm.Endpoint{Addr: netip.MustParseAddr("192.0.2.10"),
				Ifindex: ifindex},
			Message: "refused", Err: unix.EPERM}
	}

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"named", refusal(3),
			"adding endpoint 192.0.2.10 dev wlan0: refused: operation not permitted"},
		{"two digits", refusal(30),
			"adding endpoint 192.0.2.10 dev wwan0: refused: operation not permitted"},
		{"unknown link", refusal(7),
			"adding endpoint 192.0.2.10 dev if7: refused: operation not permitted"},
		{"no device", refusal(0),
			"adding endpoint 192.0.2.10: refused: operation not permitted"},
		{"not a pm.Error", pm.ErrSkipped, pm.ErrSkipped.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.nameDevice(tt.err)
			if diff := cmp.Diff(tt.want, got.Error()); diff != "" {
				t.Errorf("unexpected text (-want +got):\n%s", diff)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the named error does not wrap %v", tt.err)
			}
		})
	}
}
