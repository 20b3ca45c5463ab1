package pm

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unhex decodes a hex fixture written with spaces between words.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad fixture %q: %v", s, err)
	}

	return b
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// Wire fixtures taken from KERNEL-MPTCP-PM.md.
const (
	// §3.2: a 6.18 dump entry, ADDR nest with NLA_F_NESTED.
	dumpEntry = `34000180
		06000100 02000000
		06000500 00000000
		05000200 01000000
		08000600 02000000
		08000700 03000000
		08000300 0a090101`

	// §10: iproute2 6.1's ADD_ADDR for
	// `10.9.1.1 dev v1 id 5 subflow backup` (dev v1 is ifindex 3).
	iprouteAdd = `2c000180
		05000200 05000000
		08000600 06000000
		08000700 03000000
		06000100 02000000
		08000300 0a090101`

	// §10: PORT 20001 in host order.
	port20001 = `06000500 214e0000`
)

func TestDecodeEndpoint(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want Endpoint
	}{
		{
			name: "dump entry",
			wire: dumpEntry,
			want: Endpoint{ID: 1, Addr: netip.MustParseAddr("10.9.1.1"),
				Flags: FlagSubflow, Ifindex: 3},
		},
		{
			name: "iproute2 add",
			wire: iprouteAdd,
			want: Endpoint{ID: 5, Addr: netip.MustParseAddr("10.9.1.1"),
				Flags: FlagSubflow | FlagBackup, Ifindex: 3},
		},
		{
			name: "port",
			wire: `34000180 06000100 02000000 ` + port20001 +
				` 05000200 03000000 08000600 05000000 08000300 c0000201
				  08000900 ffffffff`,
			want: Endpoint{ID: 3, Addr: netip.MustParseAddr("192.0.2.1"),
				Port: 20001, Flags: FlagSignal | FlagBackup},
		},
		{
			name: "ipv6 without the nested flag",
			wire: `28000100 06000100 0a000000 05000200 14000000
				  14000400 20010db8 00000000 00000000 00000001`,
			want: Endpoint{ID: 20, Addr: netip.MustParseAddr("2001:db8::1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEndpoint(unhex(t, tt.wire))
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, addrCmp); diff != "" {
				t.Errorf("unexpected endpoint (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeEndpointErrors(t *testing.T) {
	tests := []struct {
		name string
		wire string
	}{
		{"empty", ``},
		{"no addr nest", `08000200 01000000`},
		{"no address", `0c000180 06000100 02000000`},
		{"short addr4", `10000180 06000100 02000000 07000300 0a0901 00`},
		{"addr6 of 4 bytes", `10000180 06000100 0a000000 08000400 0a090101`},
		{"family mismatch", `10000180 06000100 0a000000 08000300 0a090101`},
		{"unknown family", `10000180 06000100 03000000 08000300 0a090101`},
		{"truncated", `34000180 06000100 0200`},
		{"short id", `14000180 04000200 06000100 02000000 08000300 0a090101`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := decodeEndpoint(unhex(t, tt.wire)); err == nil {
				t.Errorf("decoding succeeded with %+v, want an error", e)
			}
		})
	}
}

func TestEncodeEndpoint(t *testing.T) {
	tests := []struct {
		name string
		e    Endpoint
		want string
	}{
		{
			name: "iproute2 add",
			e: Endpoint{ID: 5, Addr: netip.MustParseAddr("10.9.1.1"),
				Flags: FlagSubflow | FlagBackup, Ifindex: 3},
			want: iprouteAdd,
		},
		{
			name: "port, no id, no device",
			e: Endpoint{Addr: netip.MustParseAddr("10.9.1.1"), Port: 20001,
				Flags: FlagSignal},
			want: `24000180 08000600 01000000 06000100 02000000
				   08000300 0a090101 ` + port20001,
		},
		{
			name: "ipv6",
			e:    Endpoint{Addr: netip.MustParseAddr("2001:db8::1")},
			want: `28000180 08000600 00000000 06000100 0a000000
				   14000400 20010db8 00000000 00000000 00000001`,
		},
		{
			name: "ipv4-mapped sent as ipv4",
			e:    Endpoint{Addr: netip.MustParseAddr("::ffff:10.9.1.1")},
			want: `1c000180 08000600 00000000 06000100 02000000
				   08000300 0a090101`,
		},
		{
			name: "id only",
			e:    Endpoint{ID: 7, Flags: FlagBackup},
			want: `14000180 05000200 07000000 08000600 04000000`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeEndpoint(tt.e)
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			if diff := cmp.Diff(unhex(t, tt.want), got); diff != "" {
				t.Errorf("unexpected bytes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeIDForms(t *testing.T) {
	got, err := encodeIDOnly(9)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(unhex(t, `0c000180 05000200 09000000`), got); diff != "" {
		t.Errorf("unexpected id-only bytes (-want +got):\n%s", diff)
	}

	got, err = encodeIDAddr(0, netip.MustParseAddr("10.9.1.1"))
	if err != nil {
		t.Fatal(err)
	}
	want := `1c000180 05000200 00000000 06000100 02000000 08000300 0a090101`
	if diff := cmp.Diff(unhex(t, want), got); diff != "" {
		t.Errorf("unexpected id 0 delete bytes (-want +got):\n%s", diff)
	}
}

func TestEndpointRoundTrip(t *testing.T) {
	for _, e := range []Endpoint{
		{ID: 255, Addr: netip.MustParseAddr("198.51.100.10"), Flags: 0x7f, Ifindex: -1},
		{ID: 1, Addr: netip.MustParseAddr("fe80::1"), Port: 65535, Flags: FlagSignal},
	} {
		b, err := encodeEndpoint(e)
		if err != nil {
			t.Fatalf("encoding %v: %v", e, err)
		}
		got, err := decodeEndpoint(b)
		if err != nil {
			t.Fatalf("decoding %v: %v", e, err)
		}
		if diff := cmp.Diff(e, got, addrCmp); diff != "" {
			t.Errorf("unexpected round trip (-want +got):\n%s", diff)
		}
	}
}

func TestLimitsCodec(t *testing.T) {
	four, one := uint32(4), uint32(1)
	tests := []struct {
		name              string
		subflows, accepts *uint32
		want              string
	}{
		{"both", &four, &one, `08000200 01000000 08000300 04000000`},
		{"subflows only", &four, nil, `08000300 04000000`},
		{"accepted only", nil, &one, `08000200 01000000`},
		{"none", nil, nil, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeLimits(tt.subflows, tt.accepts)
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			want := hex.EncodeToString(unhex(t, tt.want))
			if diff := cmp.Diff(want, hex.EncodeToString(got)); diff != "" {
				t.Errorf("unexpected bytes (-want +got):\n%s", diff)
			}
		})
	}

	got, err := decodeLimits(unhex(t, `08000200 00000000 08000300 02000000`))
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if want := (Limits{AddAddrAccepted: 0, Subflows: 2}); got != want {
		t.Errorf("decoding: got %+v, want %+v", got, want)
	}

	for _, bad := range []string{``, `08000200 00000000`, `06000200 0000 0000 08000300 02000000`} {
		if l, err := decodeLimits(unhex(t, bad)); err == nil {
			t.Errorf("decoding %q: got %+v, want an error", bad, l)
		}
	}
}
