package watchers

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var cmpNetip = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func TestLinkOf(t *testing.T) {
	attrs := func(name string, index int, flags uint32, encap string,
	) netlink.LinkAttrs {
		return netlink.LinkAttrs{Name: name, Index: index, MTU: 1500,
			RawFlags: flags, EncapType: encap, OperState: netlink.OperUp,
			MasterIndex: 0}
	}
	upCarrier := uint32(unix.IFF_UP | unix.IFF_LOWER_UP)
	tests := []struct {
		name  string
		link  netlink.Link
		sysfs func(Facts) Facts
		want  Link
	}{
		{
			name: "hardware ethernet",
			link: &netlink.Device{LinkAttrs: attrs("enp3s0", 2, upCarrier, "ether")},
			want: Link{Index: 2, Name: "enp3s0", Type: TypeEthernet, Up: true,
				Carrier: true, OperState: "up", MTU: 1500, Flags: upCarrier,
				ARPType: unix.ARPHRD_ETHER},
		},
		{
			name: "wifi from sysfs",
			link: &netlink.Device{LinkAttrs: attrs("wlp2s0", 3, unix.IFF_UP, "ether")},
			sysfs: func(f Facts) Facts {
				f.DevType = "wlan"
				return f
			},
			want: Link{Index: 3, Name: "wlp2s0", Type: TypeWifi, Up: true,
				OperState: "up", MTU: 1500, Flags: unix.IFF_UP,
				ARPType: unix.ARPHRD_ETHER},
		},
		{
			name: "tun kind spelled as the kernel does",
			link: &netlink.Tuntap{LinkAttrs: attrs("tun0", 4, upCarrier, "none")},
			want: Link{Index: 4, Name: "tun0", Kind: "tun", Type: TypeTunnel,
				Up: true, Carrier: true, OperState: "up", MTU: 1500,
				Flags: upCarrier, ARPType: unix.ARPHRD_NONE},
		},
		{
			name: "veth, down",
			link: &netlink.Veth{LinkAttrs: attrs("eth0", 5, 0, "ether")},
			want: Link{Index: 5, Name: "eth0", Kind: "veth", Type: TypeVeth,
				OperState: "up", MTU: 1500, ARPType: unix.ARPHRD_ETHER},
		},
		{
			name: "unknown kind",
			link: &netlink.GenericLink{LinkAttrs: attrs("x0", 6, 0, "ether"),
				LinkType: "nlmon"},
			want: Link{Index: 6, Name: "x0", Kind: "nlmon", Type: TypeOther,
				OperState: "up", MTU: 1500, ARPType: unix.ARPHRD_ETHER},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := linkOf(tt.link, tt.sysfs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected link (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperState(t *testing.T) {
	if got := operState(netlink.OperLowerLayerDown); got != "lowerlayerdown" {
		t.Errorf("operState(lower layer down) = %q", got)
	}
	if got := operState(netlink.OperDormant); got != "dormant" {
		t.Errorf("operState(dormant) = %q", got)
	}
}

func TestAddrOfUpdate(t *testing.T) {
	u := netlink.AddrUpdate{
		LinkAddress: net.IPNet{IP: net.ParseIP("10.0.0.1"),
			Mask: net.CIDRMask(24, 32)},
		LinkIndex: 3, Scope: unix.RT_SCOPE_UNIVERSE,
		Flags:       unix.IFA_F_TEMPORARY | unix.IFA_F_DEPRECATED,
		PreferedLft: 0, ValidLft: 600, NewAddr: true,
	}
	got, ok := addrOfUpdate(u)
	want := Addr{Index: 3, Prefix: netip.MustParsePrefix("10.0.0.1/24"),
		Flags: AddrTemporary | AddrDeprecated, PreferredLft: 0, ValidLft: 600}
	if !ok {
		t.Fatal("addrOfUpdate rejected a valid address")
	}
	if diff := cmp.Diff(want, got, cmpNetip); diff != "" {
		t.Errorf("unexpected address (-want +got):\n%s", diff)
	}
}

func TestRoutesOf(t *testing.T) {
	ipnet := func(s string) *net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name  string
		route netlink.Route
		want  []Route
	}{
		{
			name: "default route in table 100, linkdown",
			route: netlink.Route{Family: unix.AF_INET, Type: unix.RTN_UNICAST,
				Dst: ipnet("0.0.0.0/0"), Gw: net.ParseIP("10.0.0.254"),
				LinkIndex: 2, Priority: 100, Table: 100, Flags: rtnhLinkdown},
			want: []Route{{Family: 4, Dst: netip.MustParsePrefix("0.0.0.0/0"),
				LinkIndex: 2, Gateway: netip.MustParseAddr("10.0.0.254"),
				Metric: 100, Table: 100, Linkdown: true}},
		},
		{
			name: "multipath IPv6, one hop down",
			route: netlink.Route{Family: unix.AF_INET6, Type: unix.RTN_UNICAST,
				Dst: ipnet("::/0"), Priority: 1024, Table: 254,
				MultiPath: []*netlink.NexthopInfo{
					{LinkIndex: 2, Gw: net.ParseIP("fe80::1")},
					{LinkIndex: 3, Gw: net.ParseIP("fe80::2"), Flags: rtnhLinkdown},
				}},
			want: []Route{
				{Family: 6, Dst: netip.MustParsePrefix("::/0"), LinkIndex: 2,
					Gateway: netip.MustParseAddr("fe80::1"), Metric: 1024, Table: 254},
				{Family: 6, Dst: netip.MustParsePrefix("::/0"), LinkIndex: 3,
					Gateway: netip.MustParseAddr("fe80::2"), Metric: 1024, Table: 254,
					Linkdown: true},
			},
		},
		{
			name: "local route left out",
			route: netlink.Route{Family: unix.AF_INET, Type: unix.RTN_LOCAL,
				Dst: ipnet("10.0.0.1/32"), LinkIndex: 2, Table: 255},
		},
		{
			name: "cached clone left out",
			route: netlink.Route{Family: unix.AF_INET6, Type: unix.RTN_UNICAST,
				Dst: ipnet("2001:db8::1/128"), LinkIndex: 2, Table: 254,
				Flags: unix.RTM_F_CLONED},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := routesOf(tt.route)
			if diff := cmp.Diff(tt.want, got, cmpNetip); diff != "" {
				t.Errorf("unexpected routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArphrdOf(t *testing.T) {
	tests := map[string]uint16{
		"ether":      unix.ARPHRD_ETHER,
		"loopback":   unix.ARPHRD_LOOPBACK,
		"none":       unix.ARPHRD_NONE,
		"ppp":        unix.ARPHRD_PPP,
		"unknown519": 519,
	}
	for name, want := range tests {
		if got := arphrdOf(name); got != want {
			t.Errorf("arphrdOf(%q) = %d, want %d", name, got, want)
		}
	}
}
