// Package rules loads the rules file of mptcp-autopm and decides, for each
// eligible address, which MPTCP endpoint it gets.
//
// # The rules file
//
// The daemon and the CLI read /etc/mptcp-autopm/rules.toml (DefaultPath)
// when it exists; without it the embedded default rules apply alone. The
// file is TOML. Unknown keys are errors, and one load reports every mistake
// of the file, each with the file, the line, the rule and, inside an
// expression, the line and column with an excerpt:
//
//	rules.toml:3: rule "home-wifi": when: line 1, column 24: unknown name linx
//	 | link.type == "wifi" && linx
//	 | .......................^
//
// `mptcp-autopm check [--rules FILE]` prints them all and exits non-zero;
// `mptcp-autopm rules [--rules FILE]` prints the effective rule list and
// settings as a rules file.
//
// # Rules
//
// Each [[rule]] table is one rule:
//
//	[[rule]]
//	name = "wifi-backup"           # unique, names the rule in logs
//	when = 'link.type == "wifi"'   # a boolean expression over the facts
//	flags = ["subflow", "backup"]  # the endpoint the address gets
//
// The first rule whose `when` is true for an address decides; the file's
// rules come first, then the embedded ones, unless [settings] says
// `embedded_rules = false`. While the embedded rules are on, the file's
// rules may not take their names. An address that no rule matches gets no
// endpoint.
//
// A rule gives either `flags`, a list of endpoint flags, or `skip = true`,
// which keeps MPTCP off the address (the daemon then makes no endpoint
// for it; with `manage = "all"` it also removes anyone else's). The flags
// are those of ip-mptcp(8):
//
//	signal    announce the address to the peer (ADD_ADDR)
//	subflow   open a subflow from the address to the peer
//	backup    subflows from the address are used only when no other works
//	fullmesh  with subflow: one subflow to every address the peer announces
//	laminar   answer a received ADD_ADDR from this address (Linux 6.18)
//
// `port = N` gives a signal endpoint a port of its own, on which the
// kernel listens for joins; it needs `signal` without `subflow`. The
// kernel also refuses signal with fullmesh, and `implicit`, which only the
// kernel sets; such rules are load errors. An empty list, `flags = []`, is
// an endpoint that opens and announces nothing.
//
// # Facts
//
// A `when` is an expression of the expr language (https://expr-lang.org)
// over these facts about the address, its link, its routes and the host.
// Strings compare with ==, in, startsWith, endsWith, contains and matches
// (a regular expression); lists with any, all, none, filter and count.
//
//	link.name        string  interface name, "wlan0"
//	link.index       int     ifindex
//	link.type        string  wifi, wwan (cellular), ethernet, loopback,
//	                         bridge, bond, vlan, veth, tunnel, ppp, other;
//	                         [[settings.type]] overrides it by name
//	link.kind        string  rtnetlink kind ("veth", "bridge"), "" for
//	                         hardware
//	link.up          bool    administratively up
//	link.carrier     bool    has carrier
//	link.operstate   string  "up", "down", "dormant", "unknown", ...
//	link.mtu         int     MTU
//	link.master      string  name of the master device (a bridge or bond
//	                         the link is a port of), "" if none
//
//	addr.ip          string  the address, "192.0.2.10", "2001:db8::10"
//	addr.family      int     4 or 6
//	addr.prefix_len  int     prefix length
//	addr.scope       string  global, site, link or host
//	addr.link_local  bool    IPv4 169.254/16, IPv6 fe80::/10
//	addr.ula         bool    IPv6 unique local, fc00::/7
//	addr.loopback    bool    127/8, ::1
//	addr.temporary   bool    IPv6 privacy address
//	addr.deprecated  bool    preferred lifetime over
//	addr.tentative   bool    IPv6 duplicate address detection running
//	addr.dad_failed  bool    duplicate address detection failed
//	addr.preferred_lft int   seconds, -1 for forever
//	addr.valid_lft   int     seconds, -1 for forever
//	addr.eligible    bool    passes readiness and hygiene (always true
//	                         when rules are asked: see below)
//	addr.subflows    int     MPTCP subflows established from the address
//	                         on its link now, from MPTCP events
//	addr.subflows_failed int subflows from the address closed with an
//	                         error since the daemon started
//
//	route.default    bool    a default route of the address's family goes
//	                         through the link, in any table
//	route.metric     int     lowest metric of those routes, -1 if none
//	route.gateway    string  gateway of that route, "" if none
//
//	host.uplinks     list    the usable uplinks: one {name, type, family}
//	                         per link and family with an eligible address
//	                         of that family; they never depend on the rules
//
// Rules are evaluated at every reload and resync, and when links,
// addresses or default routes change; rules that read addr.subflows or
// addr.subflows_failed also whenever MPTCP events change the counts.
//
// The rules are asked only about eligible addresses: a link that is up
// with carrier, an address that is neither tentative nor failed DAD, and
// unless [settings.hygiene] relaxes it, not loopback, link-local, unique
// local, temporary or deprecated, with a default route of its family
// through its link.
//
// # Functions
//
// inCIDR(ip, cidr) reports whether the address ip is inside the prefix
// cidr: inCIDR(addr.ip, "100.64.0.0/10"). An ip that does not parse (an
// empty route.gateway) is inside nothing. A literal cidr or ip that does
// not parse is a load error with its position.
//
// hasUplink(family, types...) reports whether a usable uplink other than
// the address's own link exists of the family (4 or 6; 0 for either) whose
// type is one of types, or of any type when none is given:
// `link.type == "wwan" && !hasUplink(addr.family, "wifi")`. A literal
// family or type it does not know is a load error.
//
// Inside any, all, none, filter and count, `.name` is a field of the list
// element; `link.name` is still the address's own link. The embedded
// wifi-backup rule asks whether another uplink of the address's family
// exists that is neither Wi-Fi nor cellular:
//
//	link.type == "wifi" && any(host.uplinks, .family == addr.family &&
//	  .name != link.name && .type not in ["wifi", "wwan"])
//
// # The embedded rules
//
// In order, and only after the file's own rules:
//
//  1. wifi-backup: a Wi-Fi address gets `subflow backup` while another
//     usable uplink of its family exists whose type is neither wifi nor
//     wwan;
//  2. wifi: any other Wi-Fi address gets `subflow`;
//  3. cellular: a wwan address gets `subflow backup`;
//  4. other: any other address gets `subflow`.
//
// None asks for fullmesh: when the endpoint of the address that carried a
// connection's first subflow is removed and added back with fullmesh (a
// cable pulled and plugged back), the kernel opens no subflow from it
// again, while plain subflow rejoins.
//
// # Limits
//
//	[limits]
//	subflows = "auto"           # an integer 0..8, "auto" or "keep"
//	add_addr_accepted = "auto"  # the same
//
// "auto", the default, computes each limit from the endpoint table that
// results, foreign endpoints included: with S endpoints carrying subflow,
// F carrying fullmesh and G carrying signal, add_addr_accepted is 2 when
// S > 0, else 0, and subflows is min(8, max(2, S + add_addr_accepted *
// max(1, F) + 2 * G)). "keep" never touches the limit; a number sets it.
//
// # Settings
//
//	[settings]
//	resync_interval = "30s"  # re-read the kernel this often (positive)
//	manage = "ours"          # or "all": also remove others' endpoints
//	                         # of addresses that the rules skip
//	embedded_rules = true    # false: the file's rules alone
//
//	[settings.hygiene]       # each true lets such addresses be eligible
//	allow_loopback = false
//	allow_link_local = false
//	allow_ula = false
//	allow_temporary = false
//	allow_deprecated = false
//	allow_no_default_route = false
//
//	[[settings.type]]        # the first matching glob sets link.type
//	match = "wlan*"          # path.Match syntax on the interface name
//	type = "wifi"
//
// Readiness (link up, carrier, not tentative, DAD not failed) cannot be
// relaxed.
package rules
