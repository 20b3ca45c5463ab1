package watchers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// The link types DetectType returns; rules see them as link.type.
const (
	TypeWifi     = "wifi"
	TypeWWAN     = "wwan"
	TypeEthernet = "ethernet"
	TypeLoopback = "loopback"
	TypeBridge   = "bridge"
	TypeBond     = "bond"
	TypeVLAN     = "vlan"
	TypeVeth     = "veth"
	TypeTunnel   = "tunnel"
	TypePPP      = "ppp"
	TypeOther    = "other"
)

// Facts are what DetectType reads about one link: rtnetlink facts that
// are right in any namespace, and sysfs facts that are only right when
// sysfs was mounted for the link's namespace (see ReadSysfs).
type Facts struct {
	Name    string // IFLA_IFNAME
	Kind    string // IFLA_INFO_KIND, "" for hardware
	ARPType uint16 // ifi_type, an ARPHRD_* value
	// DevType is DEVTYPE from /sys/class/net/NAME/uevent ("wlan", "wwan",
	// "bridge", "vlan"...), "" when absent or unknown.
	DevType string
	// Wireless is set when /sys/class/net/NAME/wireless or phy80211
	// exists: a cfg80211 or wireless-extensions device.
	Wireless bool
}

// ARPHRD_* values from include/uapi/linux/if_arp.h that DetectType reads.
const (
	arphrdEther    = 1
	arphrdPPP      = 512
	arphrdTunnel   = 768
	arphrdTunnel6  = 769
	arphrdSit      = 776
	arphrdIPGRE    = 778
	arphrdLoopback = 772
	arphrdIP6GRE   = 823
	arphrdRawIP    = 519 // WWAN in raw-ip mode (qmi_wwan, rmnet, mhi_net)
)

// devTypes maps the sysfs DEVTYPE of a link to its type.
var devTypes = map[string]string{
	"wlan":   TypeWifi,
	"wwan":   TypeWWAN,
	"bridge": TypeBridge,
	"bond":   TypeBond,
	"vlan":   TypeVLAN,
	"ppp":    TypePPP,
	"wimax":  TypeWWAN,
	"gadget": TypeEthernet, // USB gadget side (g_ether, usb_f_ncm)
}

// kinds maps the rtnetlink IFLA_INFO_KIND of a link to its type.
var kinds = map[string]string{
	"veth":      TypeVeth,
	"bridge":    TypeBridge,
	"bond":      TypeBond,
	"team":      TypeBond,
	"vlan":      TypeVLAN,
	"ppp":       TypePPP,
	"vxlan":     TypeTunnel,
	"geneve":    TypeTunnel,
	"wireguard": TypeTunnel,
	"gre":       TypeTunnel,
	"gretap":    TypeTunnel,
	"ip6gre":    TypeTunnel,
	"ip6gretap": TypeTunnel,
	"ipip":      TypeTunnel,
	"ip6tnl":    TypeTunnel,
	"sit":       TypeTunnel,
	"vti":       TypeTunnel,
	"vti6":      TypeTunnel,
	"xfrm":      TypeTunnel,
	"tun":       TypeTunnel,
	"macvlan":   TypeOther,
	"macvtap":   TypeOther,
	"ipvlan":    TypeOther,
	"dummy":     TypeOther,
	"vrf":       TypeOther,
	"netkit":    TypeOther,
}

// namePrefixes are the naming conventions DetectType falls back on, the
// longest prefix first where two overlap: systemd's predictable names
// (wl*, ww*, en*, see systemd.net-naming-scheme(7)), the kernel's defaults
// (wlan0, eth0, usb0) and ModemManager's (wwan0, rmnet_data0).
var namePrefixes = []struct{ prefix, typ string }{
	{"wlan", TypeWifi},
	{"wl", TypeWifi},
	{"wwan", TypeWWAN},
	{"rmnet", TypeWWAN},
	{"ww", TypeWWAN},
	{"eth", TypeEthernet},
	{"en", TypeEthernet},
	{"usb", TypeEthernet},
	{"ppp", TypePPP},
	{"tun", TypeTunnel},
	{"tap", TypeTunnel},
	{"wg", TypeTunnel},
}

// DetectType names a link's type from recorded facts, trying the most
// reliable fact first: the sysfs DEVTYPE and wireless directory (only a
// driver sets them), then the rtnetlink kind, then the ARPHRD type, then
// the name. Without a kind, a tunnel, PPP, loopback or RAWIP ARPHRD is
// decisive, and an Ethernet one is too unless the name says wifi or wwan;
// an ARPHRD_NONE link is told apart by its name alone. The result is one of the
// Type constants; TypeOther when nothing matches.
func DetectType(f Facts) string {
	if f.Wireless {
		return TypeWifi
	}
	if t, ok := devTypes[f.DevType]; ok {
		return t
	}
	if t, ok := kinds[f.Kind]; ok {
		return t
	}
	if t := arphrdType(f.ARPType); t != "" && f.Kind == "" {
		if t != TypeEthernet {
			return t
		}
		// Hardware Ethernet, unless the name says it is a radio whose
		// driver left no trace in sysfs.
		if n := nameType(f.Name); n == TypeWifi || n == TypeWWAN {
			return n
		}

		return TypeEthernet
	}
	if t := nameType(f.Name); t != "" {
		return t
	}

	return TypeOther
}

func arphrdType(t uint16) string {
	switch t {
	case arphrdEther:
		return TypeEthernet
	case arphrdLoopback:
		return TypeLoopback
	case arphrdPPP:
		return TypePPP
	case arphrdRawIP:
		return TypeWWAN
	case arphrdTunnel, arphrdTunnel6, arphrdSit, arphrdIPGRE,
		arphrdIP6GRE:
		return TypeTunnel
	}

	return ""
}

func nameType(name string) string {
	for _, p := range namePrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.typ
		}
	}

	return ""
}

// ReadSysfs adds to f what sysfs says about the link f.Name: DevType and
// Wireless. sys is the root of a sysfs mount (os.DirFS("/sys"), or a fake
// tree in tests), read at class/net/NAME.
//
// Sysfs shows the network namespace of the process that mounted it, not
// of the reader: a daemon started with `ip netns exec NS` gets a sysfs
// mounted for NS, but a watcher following another namespace through
// Options.NetNS sees the caller's /sys, where the same name may be another
// link or none. Watch therefore reads sysfs only when it follows its own
// namespace. A link missing from sys leaves f unchanged and is no error.
func ReadSysfs(sys fs.FS, f Facts) (Facts, error) {
	dir := path.Join("class/net", f.Name)
	if f.Name == "" || !fs.ValidPath(dir) || strings.Contains(f.Name, "/") {
		return f, fmt.Errorf("reading sysfs of link %q: invalid name", f.Name)
	}

	uevent, err := fs.ReadFile(sys, path.Join(dir, "uevent"))
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading sysfs of link %s: %w", f.Name, err)
	}

	f.DevType = ueventValue(uevent, "DEVTYPE")
	for _, sub := range []string{"wireless", "phy80211"} {
		if _, err := fs.Stat(sys, path.Join(dir, sub)); err == nil {
			f.Wireless = true
		}
	}

	return f, nil
}

// ueventValue returns the value of key in a uevent file ("KEY=value"
// lines).
func ueventValue(uevent []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(uevent))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k == key {
			return v
		}
	}

	return ""
}
