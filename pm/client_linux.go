package pm

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// FamilyName and EventsGroup are the names the kernel registers; their ids
// are dynamic and resolved at Dial.
const (
	FamilyName  = "mptcp_pm"
	EventsGroup = "mptcp_pm_events"
)

// dumpRetries bounds how often a dump interrupted by a concurrent change
// (NLM_F_DUMP_INTR) is repeated before giving up.
const dumpRetries = 10

// Config says which network namespace a Client or EventConn talks to.
// A nil *Config is the zero Config.
type Config struct {
	// NetNS is the path of a network namespace file, such as a bind mount
	// under /run/netns or /proc/PID/ns/net; "" is the caller's namespace.
	NetNS string
}

// A Client reads and changes one network namespace's in-kernel path
// manager: its endpoint table and limits. Its methods are safe for
// concurrent use. Every request acts on the namespace the Client was
// dialed in, whatever thread calls it.
type Client struct {
	nl     *netlink.Conn
	family familyInfo

	featOnce sync.Once
	feat     Features
}

var _ Kernel = (*Client)(nil)

// Dial connects to the "mptcp_pm" family in cfg's namespace. It fails when
// the kernel has no MPTCP (the family is not registered).
func Dial(cfg *Config) (*Client, error) {
	nl, fi, err := dialFamily(cfg)
	if err != nil {
		return nil, err
	}

	return &Client{nl: nl, family: fi}, nil
}

// DialNetNS dials the namespace that `ip netns add NAME` made, as
// `ip -n NAME` does.
func DialNetNS(name string) (*Client, error) {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return nil, fmt.Errorf("dialing netns %q: not a namespace name", name)
	}

	return Dial(&Config{NetNS: filepath.Join("/run/netns", name)})
}

// dialFamily opens a generic netlink socket in cfg's namespace, with
// extended acknowledgements on, and resolves the family by name.
func dialFamily(cfg *Config) (*netlink.Conn, familyInfo, error) {
	nc := &netlink.Config{}
	if cfg != nil && cfg.NetNS != "" {
		f, err := os.Open(cfg.NetNS)
		if err != nil {
			return nil, familyInfo{}, fmt.Errorf("opening netns: %w", err)
		}
		defer f.Close()

		nc.NetNS = int(f.Fd())
	}

	nl, err := netlink.Dial(unix.NETLINK_GENERIC, nc)
	if err != nil {
		return nil, familyInfo{}, fmt.Errorf("dialing generic netlink: %w", err)
	}

	// Without extended acks the kernel's reason ("address not found")
	// is lost and only the errno is left.
	if err := nl.SetOption(netlink.ExtendedAcknowledge, true); err != nil {
		nl.Close()
		return nil, familyInfo{}, fmt.Errorf("enabling extended acks: %w", err)
	}

	fi, err := getFamily(nl, FamilyName)
	if err != nil {
		nl.Close()
		return nil, familyInfo{}, err
	}

	return nl, fi, nil
}

// getFamily asks nlctrl about the family. genetlink.Conn.GetFamily does
// the same but drops the op list that Features needs.
func getFamily(nl *netlink.Conn, name string) (familyInfo, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(ctrlAttrFamilyName, name)
	data, err := ae.Encode()
	if err != nil {
		return familyInfo{}, fmt.Errorf("resolving family %s: %w", name, err)
	}

	msgs, err := execute(nl, unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY,
		netlink.Request, data)
	if errors.Is(err, unix.ENOENT) {
		// The family is registered only when the kernel has MPTCP.
		return familyInfo{}, fmt.Errorf(
			"resolving family %s: %w (no MPTCP in this kernel?)", name, err)
	}
	if err != nil {
		return familyInfo{}, fmt.Errorf("resolving family %s: %w", name, err)
	}

	for _, m := range msgs {
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(m.Data); err != nil {
			continue
		}
		if gm.Header.Command == unix.CTRL_CMD_NEWFAMILY {
			return decodeFamily(gm.Data)
		}
	}

	return familyInfo{}, fmt.Errorf("resolving family %s: no reply", name)
}

// execute sends one generic netlink request and returns the replies. With
// netlink.Acknowledge the last reply is the ACK itself.
func execute(nl *netlink.Conn, family uint16, cmd uint8,
	flags netlink.HeaderFlags, data []byte) ([]netlink.Message, error) {
	gm := genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: familyVersion},
		Data:   data,
	}
	b, err := gm.MarshalBinary()
	if err != nil {
		return nil, err
	}

	return nl.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(family),
			Flags: flags,
		},
		Data: b,
	})
}

// Close closes the connection.
func (c *Client) Close() error { return c.nl.Close() }

// do sends a change request and waits for the kernel's ACK, which it
// discards (KERNEL-MPTCP-PM.md §11: Execute returns the ACK as a message).
func (c *Client) do(cmd uint8, data []byte) error {
	_, err := execute(c.nl, c.family.id, cmd,
		netlink.Request|netlink.Acknowledge, data)

	return err
}

// get sends a do-request that the kernel answers with one message. It must
// not ask for an ACK: the kernel would send the reply and an ACK, and the
// queued ACK desynchronises every later request on the connection.
func (c *Client) get(cmd uint8, data []byte) ([]byte, error) {
	msgs, err := execute(c.nl, c.family.id, cmd, netlink.Request, data)
	if err != nil {
		return nil, err
	}

	for _, m := range msgs {
		if m.Header.Type != netlink.HeaderType(c.family.id) {
			continue
		}
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(m.Data); err != nil {
			return nil, err
		}

		return gm.Data, nil
	}

	return nil, errors.New("no reply from the kernel")
}

// Endpoints returns the endpoint table, sorted by id. A dump that a
// concurrent change interrupts (NLM_F_DUMP_INTR) is repeated.
func (c *Client) Endpoints() ([]Endpoint, error) {
	for range dumpRetries {
		eps, intr, err := c.dumpEndpoints()
		if err != nil {
			return nil, kernelError("listing endpoints", Endpoint{}, 0, err)
		}
		if !intr {
			return eps, nil
		}
	}

	return nil, kernelError("listing endpoints", Endpoint{}, 0,
		fmt.Errorf("dump interrupted %d times in a row", dumpRetries))
}

// dumpEndpoints reports whether any message of the dump carried
// NLM_F_DUMP_INTR.
//
// TODO(pm): mdlayher/netlink drops the NLMSG_DONE message, so a flag set on
// it alone goes unseen. The mptcp dump sets no cb->seq
// (net/mptcp/pm_kernel.c), so the kernel sets the flag on no message today.
func (c *Client) dumpEndpoints() ([]Endpoint, bool, error) {
	msgs, err := execute(c.nl, c.family.id, cmdGetAddr,
		netlink.Request|netlink.Dump, nil)
	if err != nil {
		return nil, false, err
	}

	var (
		eps  []Endpoint
		intr bool
	)
	for _, m := range msgs {
		if m.Header.Flags&netlink.DumpInterrupted != 0 {
			intr = true
		}
		if m.Header.Type != netlink.HeaderType(c.family.id) {
			continue
		}
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(m.Data); err != nil {
			return nil, false, err
		}
		e, err := decodeEndpoint(gm.Data)
		if err != nil {
			return nil, false, err
		}
		eps = append(eps, e)
	}
	slices.SortFunc(eps, func(a, b Endpoint) int { return cmp.Compare(a.ID, b.ID) })

	return eps, intr, nil
}

// Endpoint returns the endpoint with the given id. An unknown id fails
// with EINVAL and the message "address not found".
func (c *Client) Endpoint(id uint8) (Endpoint, error) {
	data, err := encodeIDOnly(id)
	if err != nil {
		return Endpoint{}, kernelError("getting endpoint", Endpoint{}, id, err)
	}

	reply, err := c.get(cmdGetAddr, data)
	if err != nil {
		return Endpoint{}, kernelError("getting endpoint", Endpoint{}, id, err)
	}

	e, err := decodeEndpoint(reply)
	if err != nil {
		return Endpoint{}, kernelError("getting endpoint", Endpoint{}, id, err)
	}

	return e, nil
}

// AddEndpoint adds e and returns it as the kernel stored it, with the id it
// chose when e.ID is 0. The kernel refuses a duplicate address with EEXIST,
// a used id with EBUSY and a ninth endpoint with ERANGE; e is validated
// first (Endpoint.Validate), and refused with ErrInvalid.
func (c *Client) AddEndpoint(e Endpoint) (Endpoint, error) {
	const op = "adding endpoint"
	if err := validateEndpoint(e); err != nil {
		return Endpoint{}, invalid(op, e, 0, err)
	}

	data, err := encodeEndpoint(e)
	if err != nil {
		return Endpoint{}, kernelError(op, e, 0, err)
	}

	if err := c.do(cmdAddAddr, data); err != nil {
		return Endpoint{}, kernelError(op, e, 0, err)
	}

	stored, err := c.readBack(e)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s %s: reading it back: %w", op, describe(e), err)
	}

	return stored, nil
}

// readBack finds the endpoint just added: by id when the caller chose it,
// else in a dump by address and port, the kernel's duplicate key (a port
// only tells signal endpoints apart).
func (c *Client) readBack(e Endpoint) (Endpoint, error) {
	if e.ID != 0 {
		return c.Endpoint(e.ID)
	}

	eps, err := c.Endpoints()
	if err != nil {
		return Endpoint{}, err
	}

	want := Key{Addr: e.Addr.Unmap(), Port: e.Port}
	for _, got := range eps {
		if got.Key() == want {
			return got, nil
		}
	}

	return Endpoint{}, errors.New("not in the table after the kernel accepted it")
}

// DeleteEndpoint deletes the endpoint with the given id; addr is ignored
// then. Id 0 is not an endpoint: with an address it closes the subflows
// whose initial local address is addr and sends RM_ADDR id 0 to peers
// (ip-mptcp(8), "delete id 0 ADDRESS"); without one it is refused with
// ErrInvalid. An unknown id fails with EINVAL "address not found".
func (c *Client) DeleteEndpoint(id uint8, addr netip.Addr) error {
	const op = "deleting endpoint"
	var (
		data []byte
		err  error
		ep   Endpoint
	)
	switch {
	case id != 0:
		data, err = encodeIDOnly(id)
	case !addr.IsValid():
		return invalid(op, Endpoint{}, 0,
			errors.New("address is needed for deleting id 0 address"))
	default:
		ep = Endpoint{Addr: addr}
		data, err = encodeIDAddr(0, addr)
	}
	if err != nil {
		return kernelError(op, ep, id, err)
	}

	if err := c.do(cmdDelAddr, data); err != nil {
		return kernelError(op, ep, id, err)
	}

	return nil
}

// SetFlags assigns e's backup and fullmesh bits, together, to the endpoint
// with id e.ID, or when e.ID is 0 to the one with e.Addr (and e.Port, which
// the kernel compares only if the stored endpoint has a port). Other bits of
// e.Flags are not sent: the kernel cannot change them in place. Fullmesh on
// a signal or implicit endpoint fails with EINVAL "invalid addr flags".
func (c *Client) SetFlags(e Endpoint) error {
	const op = "changing endpoint"
	req := Endpoint{ID: e.ID, Flags: e.Flags & InPlace}
	if e.ID == 0 {
		if !e.Addr.IsValid() {
			return invalid(op, e, 0,
				errors.New("either id or address is needed"))
		}
		req.Addr, req.Port = e.Addr, e.Port
	}

	data, err := encodeEndpoint(req)
	if err != nil {
		return kernelError(op, e, e.ID, err)
	}

	if err := c.do(cmdSetFlags, data); err != nil {
		return kernelError(op, e, e.ID, err)
	}

	return nil
}

// Flush deletes every endpoint and resets the kernel's id counter to 1.
func (c *Client) Flush() error {
	if err := c.do(cmdFlushAddrs, nil); err != nil {
		return kernelError("flushing endpoints", Endpoint{}, 0, err)
	}

	return nil
}

// Limits returns the namespace's limits.
func (c *Client) Limits() (Limits, error) {
	reply, err := c.get(cmdGetLimits, nil)
	if err != nil {
		return Limits{}, kernelError("getting limits", Endpoint{}, 0, err)
	}

	l, err := decodeLimits(reply)
	if err != nil {
		return Limits{}, kernelError("getting limits", Endpoint{}, 0, err)
	}

	return l, nil
}

// SetLimits sets both limits. Values above MaxLimit are refused with
// ErrInvalid before anything is sent.
func (c *Client) SetLimits(l Limits) error {
	return c.SetLimitsPartial(&l.Subflows, &l.AddAddrAccepted)
}

// SetLimitsPartial sets the limits that are not nil and leaves the others
// alone, as `ip mptcp limits set subflows 4` does. The kernel applies both
// or neither; with both nil nothing changes.
func (c *Client) SetLimitsPartial(subflows, addAddrAccepted *uint32) error {
	const op = "setting limits"
	if err := checkLimits(subflows, addAddrAccepted); err != nil {
		return invalid(op, Endpoint{}, 0, err)
	}

	data, err := encodeLimits(subflows, addAddrAccepted)
	if err != nil {
		return kernelError(op, Endpoint{}, 0, err)
	}

	if err := c.do(cmdSetLimits, data); err != nil {
		return kernelError(op, Endpoint{}, 0, err)
	}

	return nil
}

// checkLimits returns a *LimitError for the first limit above MaxLimit.
func checkLimits(subflows, addAddrAccepted *uint32) error {
	if subflows != nil && *subflows > MaxLimit {
		return &LimitError{Name: "subflows", Value: *subflows}
	}
	if addAddrAccepted != nil && *addAddrAccepted > MaxLimit {
		return &LimitError{Name: "add_addr_accepted",
			Value: *addAddrAccepted}
	}

	return nil
}
