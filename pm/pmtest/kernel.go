package pmtest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// Kernel is an in-memory path manager of one network namespace. The zero
// value is not usable; call New. A Kernel is safe for concurrent use.
type Kernel struct {
	mu      sync.Mutex
	t       table
	ifnames map[int32]string
	counts  Counts
	refused map[netip.Addr]refusal
	onCall  func(method string)
}

// Counts are the calls made to a Kernel through its pm.Kernel methods,
// failed ones included. Calls through Other are not counted.
type Counts struct {
	Dumps      int // Endpoints
	LimitReads int // Limits
	Adds       int
	Deletes    int
	SetFlags   int
	SetLimits  int
	Flushes    int
}

// Changes is the number of calls that could change the kernel's state.
func (c Counts) Changes() int {
	return c.Adds + c.Deletes + c.SetFlags + c.SetLimits + c.Flushes
}

type refusal struct {
	errno unix.Errno
	msg   string
}

// New returns an empty path manager with a fresh namespace's limits
// (subflows 2, add_addr_accepted 0).
func New() *Kernel {
	return &Kernel{t: newTable()}
}

var _ pm.Kernel = (*Kernel)(nil)

// SetIfnames names interfaces for String; an index missing from m prints
// as "ifN", as iproute2 prints a vanished interface.
func (k *Kernel) SetIfnames(m map[int32]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ifnames = copyNames(m)
}

func copyNames(m map[int32]string) map[int32]string {
	c := make(map[int32]string, len(m))
	for i, n := range m {
		c[i] = n
	}

	return c
}

// Refuse makes every later add, delete and flags change of an endpoint
// with address addr fail as a kernel refusal with errno and the extended
// ack text msg. An errno of 0 lifts the refusal.
func (k *Kernel) Refuse(addr netip.Addr, errno unix.Errno, msg string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refused == nil {
		k.refused = map[netip.Addr]refusal{}
	}
	if errno == 0 {
		delete(k.refused, addr)
		return
	}
	k.refused[addr] = refusal{errno: errno, msg: msg}
}

// DropFlags makes the kernel drop the flag bits f from every later add
// and flags change, as a kernel that masks unknown flags ("mptcp: pm:
// ignore unknown endpoint flags", 6.19 and stable) but predates them does:
// DropFlags(pm.FlagLaminar) is such a kernel older than 6.18. The add
// succeeds and the endpoint is stored without those bits. 0 drops none.
func (k *Kernel) DropFlags(f pm.Flags) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.t.dropped = f
}

// OnCall sets fn to run before each call of a pm.Kernel method, with the
// method's name ("AddEndpoint"), outside the Kernel's lock, so that fn may
// make foreign edits through Other at that point. nil removes it.
func (k *Kernel) OnCall(fn func(method string)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.onCall = fn
}

// Counts returns the calls made so far.
func (k *Kernel) Counts() Counts {
	k.mu.Lock()
	defer k.mu.Unlock()

	return k.counts
}

// ResetCounts sets every count back to zero.
func (k *Kernel) ResetCounts() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.counts = Counts{}
}

// AddImplicit adds an endpoint for addr as the kernel does when a subflow
// uses a local address no endpoint has: flags implicit, no device, the next
// automatic id. An address that already has an endpoint keeps it and its
// id is returned. It fails with ERANGE at the cap. It is not counted.
func (k *Kernel) AddImplicit(addr netip.Addr) (pm.Endpoint, error) {
	k.mu.Lock()
	defer k.mu.Unlock()

	return k.t.addImplicit(addr)
}

// String renders the table as `ip mptcp endpoint show` prints it: one line
// per endpoint, sorted by id, each with iproute2's trailing space.
func (k *Kernel) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()

	return k.render()
}

// State renders the table as String does, followed by the limits as
// `ip mptcp limits show` prints them.
func (k *Kernel) State() string {
	k.mu.Lock()
	defer k.mu.Unlock()

	return k.render() + k.t.limits.String() + " \n"
}

func (k *Kernel) render() string {
	ifname := func(i int32) string { return k.ifnames[i] }
	var b strings.Builder
	for _, e := range k.t.dump() {
		b.WriteString(e.Format(ifname) + " \n")
	}

	return b.String()
}

// enter counts a call of method and runs the OnCall hook. It returns with
// k.mu held.
func (k *Kernel) enter(method string, count *int) {
	k.mu.Lock()
	fn := k.onCall
	k.mu.Unlock()
	if fn != nil {
		fn(method)
	}

	k.mu.Lock()
	*count++
}

// refusal returns the injected refusal for addr, if any, as the error op
// would return.
func (k *Kernel) refusal(op string, e pm.Endpoint, id uint8) error {
	r, ok := k.refused[e.Addr]
	if !ok || !e.Addr.IsValid() {
		return nil
	}

	return kernelErr(op, e, id, r.errno, r.msg)
}

// Endpoints returns the table sorted by id, as a dump does.
func (k *Kernel) Endpoints() ([]pm.Endpoint, error) {
	k.enter("Endpoints", &k.counts.Dumps)
	defer k.mu.Unlock()

	return k.t.dump(), nil
}

// AddEndpoint adds e and returns it as stored, with its id.
func (k *Kernel) AddEndpoint(e pm.Endpoint) (pm.Endpoint, error) {
	k.enter("AddEndpoint", &k.counts.Adds)
	defer k.mu.Unlock()
	if err := k.refusal(opAdd, e, 0); err != nil {
		return pm.Endpoint{}, err
	}

	return k.t.add(e)
}

// DeleteEndpoint deletes the endpoint with id. With id 0 and an address it
// succeeds and changes nothing: the kernel then only closes the initial
// subflows from that address.
func (k *Kernel) DeleteEndpoint(id uint8, addr netip.Addr) error {
	k.enter("DeleteEndpoint", &k.counts.Deletes)
	defer k.mu.Unlock()
	if e, ok := k.t.byID(id); ok {
		if err := k.refusal(opDelete, e, id); err != nil {
			return err
		}
	}

	return k.t.delete(id, addr)
}

// SetFlags assigns the backup and fullmesh bits of the endpoint with e.ID,
// or with e's address and port when e.ID is 0.
func (k *Kernel) SetFlags(e pm.Endpoint) error {
	k.enter("SetFlags", &k.counts.SetFlags)
	defer k.mu.Unlock()
	if cur, ok := k.t.lookup(e); ok {
		if err := k.refusal(opSetFlags, cur, e.ID); err != nil {
			return err
		}
	}

	return k.t.setFlags(e)
}

// Flush deletes every endpoint and restarts id allocation at 1.
func (k *Kernel) Flush() error {
	k.enter("Flush", &k.counts.Flushes)
	defer k.mu.Unlock()
	k.t.flush()

	return nil
}

// Limits returns the limits.
func (k *Kernel) Limits() (pm.Limits, error) {
	k.enter("Limits", &k.counts.LimitReads)
	defer k.mu.Unlock()

	return k.t.limits, nil
}

// SetLimits sets both limits, or neither when one is above pm.MaxLimit.
func (k *Kernel) SetLimits(l pm.Limits) error {
	k.enter("SetLimits", &k.counts.SetLimits)
	defer k.mu.Unlock()

	return k.t.setLimits(l)
}

// SetLimitsPartial sets the limits that are not nil, both or neither, as
// (*pm.Client).SetLimitsPartial does. It counts as a SetLimits.
func (k *Kernel) SetLimitsPartial(subflows, addAddrAccepted *uint32) error {
	k.enter("SetLimitsPartial", &k.counts.SetLimits)
	defer k.mu.Unlock()

	l := k.t.limits
	if subflows != nil {
		l.Subflows = *subflows
	}
	if addAddrAccepted != nil {
		l.AddAddrAccepted = *addAddrAccepted
	}

	return k.t.setLimits(l)
}

// Other returns a pm.Kernel on the same table for edits made by someone
// else (ip mptcp, another daemon): its calls are neither counted, hooked
// nor refused.
func (k *Kernel) Other() pm.Kernel { return other{k} }

type other struct{ k *Kernel }

func (o other) Endpoints() ([]pm.Endpoint, error) {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.dump(), nil
}

func (o other) AddEndpoint(e pm.Endpoint) (pm.Endpoint, error) {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.add(e)
}

func (o other) DeleteEndpoint(id uint8, addr netip.Addr) error {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.delete(id, addr)
}

func (o other) SetFlags(e pm.Endpoint) error {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.setFlags(e)
}

func (o other) Flush() error {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()
	o.k.t.flush()

	return nil
}

func (o other) Limits() (pm.Limits, error) {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.limits, nil
}

func (o other) SetLimits(l pm.Limits) error {
	o.k.mu.Lock()
	defer o.k.mu.Unlock()

	return o.k.t.setLimits(l)
}

// sortByID sorts endpoints as a dump lists them.
func sortByID(eps []pm.Endpoint) {
	slices.SortFunc(eps, func(a, b pm.Endpoint) int {
		return int(a.ID) - int(b.ID)
	})
}

// kernelErr builds the error the real client returns for a kernel refusal.
func kernelErr(op string, e pm.Endpoint, id uint8, errno unix.Errno,
	msg string) error {
	return &pm.Error{Op: op, Endpoint: e, ID: id, Message: msg, Err: errno}
}

// localErr builds the error the real client returns for a request it
// refuses before sending.
func localErr(op string, e pm.Endpoint, id uint8, reason error) error {
	return &pm.Error{Op: op, Endpoint: e, ID: id, Local: true, Err: reason}
}

// dupMsg is the kernel's extended-ack text for a refused add.
func dupMsg(errno unix.Errno) string {
	return fmt.Sprintf("too many addresses or duplicate one: -%d", int(errno))
}
