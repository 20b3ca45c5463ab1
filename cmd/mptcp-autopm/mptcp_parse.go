package main

import (
	"net/netip"
	"strings"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// An endpointVerb is what an `endpoint` sub-command does.
type endpointVerb int

const (
	verbShow endpointVerb = iota
	verbAdd
	verbDelete
	verbChange
	verbFlush
)

// endpointVerbs lists the verbs in the order ip-mptcp(8) tries them, so
// that an abbreviation means what it means to ip ("d" is delete).
var endpointVerbs = []struct {
	name string
	verb endpointVerb
}{
	{"add", verbAdd},
	{"change", verbChange},
	{"delete", verbDelete},
	{"show", verbShow},
	{"flush", verbFlush},
}

// An endpointRequest is a parsed `endpoint` sub-command. Endpoint holds
// the address (invalid when none was given), id, port, flags and device
// index; IDSet tells "id 0" from no id, which delete and show care about.
// Dump is a show with no argument: the whole table rather than one id.
type endpointRequest struct {
	Verb     endpointVerb
	Endpoint pm.Endpoint
	IDSet    bool
	Dump     bool
}

// A limitsRequest is a parsed `limits` sub-command. Set is false for show;
// a nil limit is left as the kernel has it.
type limitsRequest struct {
	Set             bool
	AddAddrAccepted *uint32
	Subflows        *uint32
}

// flagWords are the flag words of ip-mptcp(8), matched exactly. nobackup
// and nofullmesh add no bit: `change` assigns backup and fullmesh
// together, so leaving a bit out clears it. laminar (Linux 6.18) is
// accepted as newer iproute2 accepts it; implicit is refused as an
// address, as iproute2 6.1 does, since the kernel never takes it.
var flagWords = map[string]pm.Flags{
	"signal":     pm.FlagSignal,
	"subflow":    pm.FlagSubflow,
	"backup":     pm.FlagBackup,
	"fullmesh":   pm.FlagFullmesh,
	"laminar":    pm.FlagLaminar,
	"nobackup":   0,
	"nofullmesh": 0,
}

// An ifindexFunc returns the index of the interface named name in the
// namespace the command acts on, or 0 when there is none.
type ifindexFunc func(name string) int32

// parseEndpoint parses the arguments after `endpoint`. With no verb it
// shows the table, as ip does. ifindex resolves `dev NAME`.
func parseEndpoint(s *scanner, ifindex ifindexFunc) (endpointRequest, error) {
	w, ok, err := s.word()
	if err != nil || !ok {
		return endpointRequest{Verb: verbShow, Dump: true}, err
	}

	for _, v := range endpointVerbs {
		if !matches(w, v.name) {
			continue
		}
		if v.verb == verbFlush {
			// ip ignores whatever follows flush.
			_, err := s.rest()
			return endpointRequest{Verb: verbFlush}, err
		}

		return parseEndpointArgs(s, v.verb, ifindex)
	}

	return endpointRequest{}, unknownCommand(w)
}

// parseEndpointArgs parses ADDRESS, id, dev, port and flag words in any
// order, as mptcp_parse_opt in iproute2's ip/ipmptcp.c does: a flag word
// first, then the keywords by prefix, then an address. Errors come in
// the order ip finds them. A repeated keyword keeps the last value.
func parseEndpointArgs(s *scanner, verb endpointVerb,
	ifindex ifindexFunc) (endpointRequest, error) {
	r := endpointRequest{Verb: verb, Dump: verb == verbShow}
	for {
		w, ok, err := s.word()
		if err != nil {
			return r, err
		}
		if !ok {
			break
		}
		r.Dump = false

		if err := r.parseWord(s, w, ifindex); err != nil {
			return r, err
		}
	}

	return r, r.check()
}

// parseWord takes one word of an endpoint command, and its value.
func (r *endpointRequest) parseWord(s *scanner, w string,
	ifindex ifindexFunc) error {
	if f, ok := flagWords[w]; ok {
		return r.addFlag(w, f)
	}

	switch {
	case matches(w, "id"):
		return r.parseID(s)
	case matches(w, "dev"):
		return r.parseDev(s, ifindex)
	case matches(w, "port"):
		return r.parsePort(s)
	}

	a, err := parseAddr(w)
	if err != nil {
		return err
	}
	r.Endpoint.Addr = a

	return nil
}

// addFlag sets a flag, refusing at once what ip refuses at that word.
func (r *endpointRequest) addFlag(w string, f pm.Flags) error {
	r.Endpoint.Flags |= f
	fl := r.Endpoint.Flags
	if r.Verb == verbAdd && fl.Has(pm.FlagSignal|pm.FlagFullmesh) {
		return invarg("flags mustn't have both signal and fullmesh", w)
	}
	if r.Verb == verbChange && fl&^pm.InPlace != 0 {
		return invarg("invalid flags, backup and fullmesh only", w)
	}

	return nil
}

func (r *endpointRequest) parseID(s *scanner) error {
	v, err := s.value()
	if err != nil {
		return err
	}

	id, ok := parseUint(v, 0xff)
	if !ok {
		return invarg("invalid ID", v)
	}
	r.Endpoint.ID, r.IDSet = uint8(id), true

	return nil
}

// parseDev resolves an interface name like iproute2's ll_name_to_index:
// a name of the namespace, else "ifN" for index N even if it is gone.
func (r *endpointRequest) parseDev(s *scanner, ifindex ifindexFunc) error {
	name, err := s.value()
	if err != nil {
		return err
	}
	if !validIfname(name) {
		return invarg("invalid interface name", name)
	}

	index := ifindex(name)
	if index == 0 {
		index = ifNumber(name)
	}
	if index == 0 {
		return invarg("device does not exist", name)
	}
	r.Endpoint.Ifindex = index

	return nil
}

func (r *endpointRequest) parsePort(s *scanner) error {
	v, err := s.value()
	if err != nil {
		return err
	}

	port, ok := parseUint(v, 0xffff)
	if !ok {
		return invarg("expected port", v)
	}
	r.Endpoint.Port = uint16(port)

	return nil
}

// check applies the checks ip makes once all words are read.
func (r *endpointRequest) check() error {
	e := r.Endpoint
	hasAddr := e.Addr.IsValid()
	switch {
	case r.Verb == verbAdd && !hasAddr:
		return missarg("ADDRESS")
	case r.Verb == verbDelete && !r.IDSet:
		return missarg("ID")
	case r.Verb == verbDelete && e.ID != 0 && hasAddr:
		return invarg("invalid for non-zero id address", "ADDRESS")
	case r.Verb == verbDelete && e.ID == 0 && !hasAddr:
		return invarg("address is needed for deleting id 0 address", "ID")
	case r.Verb == verbAdd && e.Port != 0 && !e.Flags.Has(pm.FlagSignal):
		return invarg("flags must have signal when using port", "port")
	case r.Verb == verbChange && r.IDSet && e.Port != 0:
		return invarg("port can't be used with id", "port")
	}

	return nil
}

// parseLimits parses the arguments after `limits`; with no verb it shows
// them. Like ip, show parses and then ignores limit arguments.
func parseLimits(s *scanner) (limitsRequest, error) {
	w, ok, err := s.word()
	if err != nil || !ok {
		return limitsRequest{}, err
	}

	var r limitsRequest
	switch {
	case matches(w, "set"):
		r.Set = true
	case matches(w, "show"):
	default:
		return r, unknownCommand(w)
	}

	if err := r.parseArgs(s); err != nil {
		return r, err
	}
	if !r.Set {
		return limitsRequest{}, nil
	}

	return r, nil
}

// parseArgs reads "subflows NR" and "add_addr_accepted NR", each keyword
// abbreviable, so that `subflow` works as well as `subflows`.
func (r *limitsRequest) parseArgs(s *scanner) error {
	for {
		w, ok, err := s.word()
		if err != nil || !ok {
			return err
		}

		var dst **uint32
		switch {
		case matches(w, "subflows"):
			dst, w = &r.Subflows, "subflows"
		case matches(w, "add_addr_accepted"):
			dst, w = &r.AddAddrAccepted, "add_addr_accepted"
		default:
			return invarg("unknown limit", w)
		}

		v, err := s.value()
		if err != nil {
			return err
		}
		n, ok := parseUint(v, 0xffffffff)
		if !ok {
			return invarg("invalid "+w, v)
		}
		u := uint32(n)
		*dst = &u
	}
}

// parseMonitor checks that `monitor` has no argument but options.
func parseMonitor(s *scanner) error {
	words, err := s.rest()
	if err != nil {
		return err
	}
	if len(words) > 0 {
		return unknownCommand(words[0])
	}

	return nil
}

// validIfname is iproute2's check_ifname: 1 to 15 bytes, no slash and no
// white space.
func validIfname(name string) bool {
	if name == "" || len(name) >= 16 {
		return false
	}

	return !strings.ContainsAny(name, "/ \t\n\v\f\r")
}

// ifNumber reads "ifN" as index N, the name iproute2 prints for an
// interface that is gone (lib/ll_map.c, sscanf "if%u"); 0 otherwise.
func ifNumber(name string) int32 {
	digits, ok := strings.CutPrefix(name, "if")
	if !ok {
		return 0
	}

	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' || n > 1<<30 {
			break
		}
		n = n*10 + int(c-'0')
	}

	return int32(n)
}

// parseAddr parses an address as iproute2's get_addr(AF_UNSPEC) does: an
// IPv6 address when it holds a colon, else the classic inet_aton forms
// ("10.1" is 10.1.0.0, "0x0a.0.0.077" is 10.0.0.63). "default", "any" and
// "all" are refused: they carry no address an endpoint could have.
func parseAddr(w string) (netip.Addr, error) {
	if strings.Contains(w, ":") {
		a, err := netip.ParseAddr(w)
		if err != nil || a.Zone() != "" || !a.Is6() {
			return netip.Addr{}, badAddress(w)
		}

		return a, nil
	}

	var b [4]byte
	rest := w
	for i := range 4 {
		n, r, ok := strtoul(rest)
		if !ok || n > 255 {
			return netip.Addr{}, badAddress(w)
		}
		b[i] = byte(n)
		if r == "" {
			return netip.AddrFrom4(b), nil
		}
		if i == 3 || r[0] != '.' {
			return netip.Addr{}, badAddress(w)
		}
		rest = r[1:]
	}

	return netip.Addr{}, badAddress(w)
}

// parseUint parses a whole argument as strtoul(3) with base 0 does
// (decimal, 0x hex, 0 octal) and checks it against max, like iproute2's
// get_u8, get_u16 and get_u32.
func parseUint(s string, max uint64) (uint64, bool) {
	n, rest, ok := strtoul(s)
	if !ok || rest != "" || n > max {
		return 0, false
	}

	return n, true
}

// strtoul reads a number at the start of s as strtoul(s, &end, 0) does,
// returning the rest of s; ok is false when no digit was read. A negative
// number other than zero wraps to a value larger than any limit here, and
// so does one that overflows.
func strtoul(s string) (n uint64, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}

	base := uint64(10)
	switch {
	case len(s) > 2 && strings.EqualFold(s[:2], "0x") && digitValue(s[2]) < 16:
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base = 8
	}

	i := 0
	for ; i < len(s) && digitValue(s[i]) < base; i++ {
		if n > (1<<64-1)/base {
			n = 1<<64 - 1 // ERANGE; larger than every maximum
			continue
		}
		n = n*base + digitValue(s[i])
	}
	if i == 0 {
		return 0, s, false
	}
	if neg && n != 0 {
		n = 1<<64 - 1
	}

	return n, s[i:], true
}

// digitValue returns c's value as a digit of base 36, or 36.
func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}

	return 36
}
