package pmtest

import (
	"errors"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// The operations as the real client names them in its errors.
const (
	opAdd      = "adding endpoint"
	opDelete   = "deleting endpoint"
	opSetFlags = "changing endpoint"
	opLimits   = "setting limits"
)

// maxID is the highest endpoint id (MPTCP_PM_MAX_ADDR_ID).
const maxID = 255

// flagsMask keeps the flag bits the kernel knows; 6.18 stable drops the
// others on add ("mptcp: pm: ignore unknown endpoint flags").
const flagsMask = pm.Flags(0x3f)

// table is the per-namespace state of net/mptcp/pm_kernel.c: the endpoint
// list, the id bitmap, next_id and the limits.
type table struct {
	// eps is in the kernel's list order: port endpoints at the head (the
	// kernel announces them first), the others in the order added.
	eps    []pm.Endpoint
	used   [maxID + 1]bool
	nextID int
	limits pm.Limits
	// dropped are the flag bits this kernel does not know: it drops
	// them on add and on SET_FLAGS, as a kernel with "mptcp: pm: ignore
	// unknown endpoint flags" but older than the flag does.
	dropped pm.Flags
}

func newTable() table {
	return table{nextID: 1, limits: pm.Limits{Subflows: 2}}
}

func (t *table) dump() []pm.Endpoint {
	eps := slices.Clone(t.eps)
	sortByID(eps)

	return eps
}

func (t *table) indexID(id uint8) int {
	return slices.IndexFunc(t.eps, func(e pm.Endpoint) bool {
		return e.ID == id
	})
}

func (t *table) byID(id uint8) (pm.Endpoint, bool) {
	if i := t.indexID(id); i >= 0 {
		return t.eps[i], true
	}

	return pm.Endpoint{}, false
}

// indexKey finds the endpoint an add of k duplicates: the same address,
// and the same port when either has one (mptcp_addresses_equal with
// use_port = cur.port || entry.port), which is equality of keys.
func (t *table) indexKey(k pm.Key) int {
	return slices.IndexFunc(t.eps, func(e pm.Endpoint) bool {
		return e.Key() == k
	})
}

// indexAddr finds the endpoint SET_FLAGS by address picks: the first in list
// order with the same address and, only if the stored one has a port, the
// same port (__lookup_addr).
func (t *table) indexAddr(a netip.Addr, port uint16) int {
	return slices.IndexFunc(t.eps, func(e pm.Endpoint) bool {
		return e.Addr == a && (e.Port == 0 || e.Port == port)
	})
}

// lookup finds the endpoint a SET_FLAGS request names: by id, or by
// address when the id is 0.
func (t *table) lookup(e pm.Endpoint) (pm.Endpoint, bool) {
	i := -1
	switch {
	case e.ID != 0:
		i = t.indexID(e.ID)
	case e.Addr.IsValid():
		i = t.indexAddr(e.Addr, e.Port)
	}
	if i < 0 {
		return pm.Endpoint{}, false
	}

	return t.eps[i], true
}

// add follows mptcp_pm_nl_add_addr_doit and
// mptcp_pm_nl_append_new_local_addr: the port listener first, then the
// cap, the explicit id, the duplicate, and the id allocation.
func (t *table) add(e pm.Endpoint) (pm.Endpoint, error) {
	if err := e.Validate(); err != nil {
		return pm.Endpoint{}, localErr(opAdd, e, 0, unwrap(err))
	}
	e.Flags &= flagsMask &^ t.dropped
	// An IPv4-mapped address is sent, and stored, as IPv4.
	e.Addr = e.Addr.Unmap()

	if e.Port != 0 && t.indexKey(e.Key()) >= 0 {
		// The listener for addr:port is made before the duplicate
		// check, and binding it fails (observed on 6.18).
		return pm.Endpoint{}, kernelErr(opAdd, e, 0, unix.EADDRINUSE,
			"create listen socket error: -98")
	}

	if t.nextID == maxID {
		t.nextID = 1
	}
	i := t.indexKey(e.Key())
	if errno := t.refuseAdd(e, i); errno != 0 {
		return pm.Endpoint{}, kernelErr(opAdd, e, 0, errno, dupMsg(errno))
	}

	if i >= 0 {
		// A user add replaces an implicit endpoint and keeps its id.
		e.ID = t.eps[i].ID
		t.remove(i)
	} else if e.ID == 0 {
		e.ID = t.allocID()
	}
	t.insert(e)

	return e, nil
}

// refuseAdd returns the errno the kernel answers an add of e with, given
// the index i of the endpoint it duplicates (-1 for none), or 0.
func (t *table) refuseAdd(e pm.Endpoint, i int) unix.Errno {
	implicit := i >= 0 && t.eps[i].Flags.Has(pm.FlagImplicit)
	switch {
	case len(t.eps) >= pm.MaxEndpoints && implicit && e.ID != 0:
		// Observed on 6.18: EINVAL, not ERANGE, for an explicit id at
		// the cap.
		return unix.EINVAL
	case len(t.eps) >= pm.MaxEndpoints:
		return unix.ERANGE
	case e.ID != 0 && t.used[e.ID]:
		return unix.EBUSY
	case i >= 0 && !implicit:
		return unix.EEXIST
	case implicit && e.ID != 0:
		// Only an add without an id may replace an implicit endpoint.
		return unix.EINVAL
	}

	return 0
}

// allocID returns the first free id at or above next_id, wrapping to 1.
func (t *table) allocID() uint8 {
	for {
		for id := t.nextID; id <= maxID; id++ {
			if !t.used[id] {
				return uint8(id)
			}
		}
		if t.nextID == 1 {
			// Unreachable: the cap leaves ids free.
			panic("pmtest: no free endpoint id")
		}
		t.nextID = 1
	}
}

func (t *table) insert(e pm.Endpoint) {
	t.used[e.ID] = true
	if int(e.ID) > t.nextID {
		t.nextID = int(e.ID)
	}
	if e.Port != 0 {
		t.eps = slices.Insert(t.eps, 0, e)
		return
	}
	t.eps = append(t.eps, e)
}

func (t *table) remove(i int) {
	t.used[t.eps[i].ID] = false
	t.eps = slices.Delete(t.eps, i, i+1)
}

// addImplicit follows mptcp_pm_nl_get_local_id: an address that has an
// endpoint keeps it; otherwise a new implicit one is appended.
func (t *table) addImplicit(addr netip.Addr) (pm.Endpoint, error) {
	if i := t.indexAddr(addr, 0); i >= 0 {
		return t.eps[i], nil
	}

	e := pm.Endpoint{Addr: addr, Flags: pm.FlagImplicit}
	if t.nextID == maxID {
		t.nextID = 1
	}
	if len(t.eps) >= pm.MaxEndpoints {
		return pm.Endpoint{}, kernelErr(opAdd, e, 0, unix.ERANGE,
			dupMsg(unix.ERANGE))
	}
	e.ID = t.allocID()
	t.insert(e)

	return e, nil
}

func (t *table) delete(id uint8, addr netip.Addr) error {
	if id == 0 {
		if !addr.IsValid() {
			return localErr(opDelete, pm.Endpoint{}, 0,
				errors.New("address is needed for deleting id 0 address"))
		}

		// Id 0 is never stored: the kernel only closes subflows.
		return nil
	}

	i := t.indexID(id)
	if i < 0 {
		return kernelErr(opDelete, pm.Endpoint{}, id, unix.EINVAL,
			"address not found")
	}
	t.remove(i)

	return nil
}

// setFlags follows mptcp_pm_nl_set_flags: backup and fullmesh are assigned
// together and every other bit is ignored.
func (t *table) setFlags(e pm.Endpoint) error {
	if e.ID == 0 && !e.Addr.IsValid() {
		// The kernel would answer EOPNOTSUPP "missing address ID"; the
		// client does not send such a request.
		return localErr(opSetFlags, e, 0,
			errors.New("either id or address is needed"))
	}

	cur, ok := t.lookup(e)
	if !ok {
		return kernelErr(opSetFlags, e, e.ID, unix.EINVAL,
			"address not found")
	}

	if e.Flags.Has(pm.FlagFullmesh) &&
		cur.Flags&(pm.FlagSignal|pm.FlagImplicit) != 0 {
		return kernelErr(opSetFlags, e, e.ID, unix.EINVAL,
			"invalid addr flags")
	}

	i := t.indexID(cur.ID)
	set := e.Flags & pm.InPlace &^ t.dropped
	t.eps[i].Flags = cur.Flags&^pm.InPlace | set

	return nil
}

func (t *table) flush() {
	t.eps = nil
	t.used = [maxID + 1]bool{}
	t.nextID = 1
}

// setLimits is atomic: a value above the maximum changes neither.
func (t *table) setLimits(l pm.Limits) error {
	// The client refuses a value above the maximum before sending; the
	// kernel would answer EINVAL "limit greater than maximum (8)".
	var le *pm.LimitError
	switch {
	case l.Subflows > pm.MaxLimit:
		le = &pm.LimitError{Name: "subflows", Value: l.Subflows}
	case l.AddAddrAccepted > pm.MaxLimit:
		le = &pm.LimitError{Name: "add_addr_accepted",
			Value: l.AddAddrAccepted}
	}
	if le != nil {
		return localErr(opLimits, pm.Endpoint{}, 0, le)
	}
	t.limits = l

	return nil
}

// unwrap drops Validate's "endpoint ...:" prefix, which the *pm.Error
// carries already.
func unwrap(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}

	return err
}
