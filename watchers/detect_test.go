package watchers

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDetectType detects types from rtnetlink facts recorded on real
// machines plus the fake sysfs tree in testdata/sysfs, which holds the
// uevent files and wireless directories those drivers create.
func TestDetectType(t *testing.T) {
	sys := os.DirFS("testdata/sysfs")
	tests := []struct {
		name string
		f    Facts
		want string
	}{
		{"wifi by DEVTYPE and wireless/", Facts{Name: "wlan0", ARPType: 1}, TypeWifi},
		{"wifi by phy80211/ only", Facts{Name: "wlp2s0", ARPType: 1}, TypeWifi},
		{"wwan by DEVTYPE", Facts{Name: "wwan0", ARPType: 65534}, TypeWWAN},
		{"bridge by DEVTYPE", Facts{Name: "br0", Kind: "bridge", ARPType: 1}, TypeBridge},
		{"bond by DEVTYPE", Facts{Name: "bond0", Kind: "bond", ARPType: 1}, TypeBond},
		{"vlan by DEVTYPE", Facts{Name: "eth0.100", Kind: "vlan", ARPType: 1}, TypeVLAN},
		{"ppp by DEVTYPE", Facts{Name: "ppp0", Kind: "ppp", ARPType: 512}, TypePPP},
		{"ethernet by ARPHRD", Facts{Name: "enp3s0", ARPType: 1}, TypeEthernet},
		{"wwan by RAWIP", Facts{Name: "rmnet_data0", ARPType: 519}, TypeWWAN},
		{"wireguard by kind", Facts{Name: "wg0", Kind: "wireguard", ARPType: 65534}, TypeTunnel},
		{"usb gadget", Facts{Name: "usb0", ARPType: 1}, TypeEthernet},
		{"veth by kind", Facts{Name: "eth0", Kind: "veth", ARPType: 1}, TypeVeth},
		{"veth named wlan0, no sysfs entry", Facts{Name: "wlan9", Kind: "veth", ARPType: 1}, TypeVeth},
		{"macvlan", Facts{Name: "mv0", Kind: "macvlan", ARPType: 1}, TypeOther},
		{"vxlan", Facts{Name: "vx0", Kind: "vxlan", ARPType: 1}, TypeTunnel},
		{"tun", Facts{Name: "tun0", Kind: "tun", ARPType: 65534}, TypeTunnel},
		{"gre", Facts{Name: "gre1", Kind: "gre", ARPType: 778}, TypeTunnel},
		{"sit", Facts{Name: "sit1", Kind: "sit", ARPType: 776}, TypeTunnel},
		{"ipip", Facts{Name: "tunl1", Kind: "ipip", ARPType: 768}, TypeTunnel},
		{"sit0 without kind", Facts{Name: "sit0", ARPType: 776}, TypeTunnel},
		{"loopback", Facts{Name: "lo", ARPType: 772}, TypeLoopback},
		{"wifi by name, driver left no sysfs trace", Facts{Name: "wlx001122", ARPType: 1}, TypeWifi},
		{"wwan by name, ARPHRD_NONE", Facts{Name: "wwp0s20", ARPType: 65534}, TypeWWAN},
		{"ppp by name, ARPHRD_NONE", Facts{Name: "ppp7", ARPType: 65534}, TypePPP},
		{"nothing known", Facts{Name: "foo0", ARPType: 65534}, TypeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadSysfs(sys, tt.f)
			if err != nil {
				t.Fatalf("ReadSysfs: %v", err)
			}
			if got := DetectType(f); got != tt.want {
				t.Errorf("DetectType(%+v) = %q, want %q", f, got, tt.want)
			}
		})
	}
}

func TestReadSysfs(t *testing.T) {
	sys := os.DirFS("testdata/sysfs")
	tests := []struct {
		name    string
		want    Facts
		wantErr bool
	}{
		{name: "wlan0", want: Facts{Name: "wlan0", DevType: "wlan", Wireless: true}},
		{name: "enp3s0", want: Facts{Name: "enp3s0"}},
		{name: "missing0", want: Facts{Name: "missing0"}},
		{name: "../wlan0", want: Facts{Name: "../wlan0"}, wantErr: true},
		{name: "", want: Facts{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSysfs(sys, Facts{Name: tt.name})
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadSysfs error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected facts (-want +got):\n%s", diff)
			}
		})
	}
}
