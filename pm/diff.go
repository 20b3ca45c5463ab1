package pm

import (
	"cmp"
	"slices"
)

// Desired is the state a reconcile moves the kernel toward.
//
// Endpoints are the endpoints wanted, in priority order: when the
// MaxEndpoints cap bites, the first are kept. Their IDs are ignored; an
// Ifindex of 0 wants an endpoint bound to no device. A later endpoint with
// the Key of an earlier one is ignored.
//
// Stale decides about a kernel endpoint whose Key is in no wanted endpoint:
// true deletes it. A nil Stale keeps every such endpoint.
//
// Limits returns the limits wanted for the table the plan will leave,
// foreign endpoints included. A nil Limits keeps both limits.
//
// Unsupported are flag bits the kernel drops on add: the wanted endpoints
// are planned without them and kernel endpoints compared without them, so
// that one stored without them matches instead of being deleted and added
// again on every reconcile. Reconcile adds the bits its Reconciler has
// seen dropped; zero drops none.
type Desired struct {
	Endpoints   []Endpoint
	Stale       func(Endpoint) bool
	Limits      func(table []Endpoint) LimitsWant
	Unsupported Flags
}

// LimitsWant is the wanted value of each limit; nil leaves that limit
// alone.
type LimitsWant struct {
	Subflows, AddAddrAccepted *uint32
}

// A Plan is what Diff found to do.
//
// Ops are in the order they must be sent. LeftOut are the wanted endpoints
// that found no slot, in priority order. Table is the table expected after
// the ops, sorted by id, with ID 0 for the endpoints whose id the kernel
// will choose (listed last, in the order they are added); Limits are the
// limits expected after.
type Plan struct {
	Ops     []Op
	LeftOut []Endpoint
	Table   []Endpoint
	Limits  Limits
}

// Diff returns the fewest ops that turn the kernel's table and limits into
// the desired state. It is pure: the kernel is neither read nor changed.
//
// Endpoints are matched by Key and compared on flags and interface, never
// on id. When only backup and fullmesh differ, one SetFlags changes the
// endpoint in place and it keeps its id; any other difference deletes it
// and adds it again. A wanted address held by an implicit endpoint is just
// added, since the kernel then replaces the implicit one keeping its id,
// except when the table is full at that point: the kernel then answers
// ERANGE (observed on 6.18: it checks the cap before looking for the
// implicit endpoint), so a slot is freed first.
//
// Adds come before deletes, so that connections keep a path, except where
// the cap needs the slot first: then the delete is placed right before the
// add that needs it. A delete placed right before an add is always one that
// add depends on (Reconciler skips the add when it fails). A SetFlags that
// clears backup, or with backup unchanged clears fullmesh, comes before
// the adds; one that sets backup, or fullmesh, comes after them and before
// the deletes, so that there is never a moment with only backup paths
// (docking: the new wired endpoint exists before Wi-Fi becomes backup).
// Limits are raised before the adds and lowered after the deletes, in two
// SetLimits when one goes up and the other down.
func Diff(table []Endpoint, limits Limits, d Desired) Plan {
	want := dedupe(d.Endpoints, d.Unsupported)
	keep, stale := splitForeign(table, want, d.Stale)

	slots := max(MaxEndpoints-len(keep), 0)
	placed := want[:min(slots, len(want))]
	var p Plan
	if len(want) > len(placed) {
		p.LeftOut = slices.Clone(want[len(placed):])
	}

	s := newSteps(table, keep)
	s.unsupported = d.Unsupported
	s.pending = append(s.pending, stale...)
	for _, w := range p.LeftOut {
		if c, ok := s.cur[w.Key()]; ok {
			s.pending = append(s.pending, del(c, "left out: no free slot"))
		}
	}
	sortOps(s.pending)
	for _, w := range placed {
		s.place(w)
	}

	p.Table = s.result()
	p.Limits = wantLimits(limits, d.Limits, p.Table)
	raise, lower := limitOps(limits, p.Limits)
	p.Ops = append(p.Ops, raise...)
	p.Ops = append(p.Ops, s.clears...)
	p.Ops = append(p.Ops, s.ops...)
	p.Ops = append(p.Ops, s.sets...)
	p.Ops = append(p.Ops, s.pending...)
	p.Ops = append(p.Ops, lower...)

	return p
}

// dedupe returns the wanted endpoints as the kernel would store them: ids
// cleared, IPv4-mapped addresses unmapped, the unsupported flags dropped;
// later duplicates of a Key are left out.
func dedupe(eps []Endpoint, unsupported Flags) []Endpoint {
	seen := make(map[Key]bool, len(eps))
	out := make([]Endpoint, 0, len(eps))
	for _, e := range eps {
		e.ID, e.Addr = 0, e.Addr.Unmap()
		e.Flags &^= unsupported
		if seen[e.Key()] {
			continue
		}
		seen[e.Key()] = true
		out = append(out, e)
	}

	return out
}

// splitForeign sorts the kernel endpoints no wanted endpoint matches into
// those kept and the deletes of the stale ones.
func splitForeign(table, want []Endpoint,
	isStale func(Endpoint) bool) (keep []Endpoint, stale []Op) {
	wanted := make(map[Key]bool, len(want))
	for _, w := range want {
		wanted[w.Key()] = true
	}

	for _, c := range table {
		switch {
		case wanted[c.Key()]:
		case isStale != nil && isStale(c):
			stale = append(stale, del(c, "stale"))
		default:
			keep = append(keep, c)
		}
	}

	return keep, stale
}

// steps builds the endpoint ops in order while counting the table's size.
type steps struct {
	cur     map[Key]Endpoint
	count   int
	final   []Endpoint // kept foreign and placed endpoints
	clears  []Op       // SetFlags clearing backup or fullmesh, sent first
	ops     []Op       // adds, each with the deletes it needs before it
	sets    []Op       // SetFlags setting backup or fullmesh, after adds
	pending []Op       // deletes not yet needed for a slot, sent last

	// unsupported are flags the kernel drops: a kernel endpoint is
	// compared without them.
	unsupported Flags
}

func newSteps(table, keep []Endpoint) *steps {
	s := &steps{
		cur:   make(map[Key]Endpoint, len(table)),
		count: len(table),
		final: slices.Clone(keep),
	}
	for _, c := range table {
		s.cur[c.Key()] = c
	}

	return s
}

// place plans the wanted endpoint w, which has a slot.
func (s *steps) place(w Endpoint) {
	c, ok := s.cur[w.Key()]
	switch {
	case !ok:
		s.freeSlot()
		s.add(w, "wanted")
		s.count++
	case c.Flags.Has(FlagImplicit):
		s.replaceImplicit(c, w)
	case c.Flags&^s.unsupported == w.Flags && c.Ifindex == w.Ifindex:
		s.final = append(s.final, c)
	case c.Ifindex == w.Ifindex &&
		((c.Flags&^s.unsupported)^w.Flags)&^InPlace == 0:
		s.change(c, w)
	default:
		// Neither flags other than backup and fullmesh nor the device
		// change in place, and the same address cannot be added twice.
		s.ops = append(s.ops, del(c, "replaced: flags or device differ"))
		s.add(w, "was "+c.String())
	}
}

// change plans the SetFlags that gives the kernel endpoint c the backup
// and fullmesh bits of w.
func (s *steps) change(c, w Endpoint) {
	w.ID = c.ID
	op := Op{Kind: OpSetFlags, Endpoint: w,
		Reason: "flags were " + flagWords(c.Flags)}
	if setsInPlace(c.Flags, w.Flags) {
		s.sets = append(s.sets, op)
	} else {
		s.clears = append(s.clears, op)
	}

	c.Flags = c.Flags&^InPlace | w.Flags&InPlace
	s.final = append(s.final, c)
}

// setsInPlace reports whether going from flags to want sets backup, or,
// backup unchanged, sets fullmesh: such a change waits for the adds.
func setsInPlace(flags, want Flags) bool {
	if flags.Has(FlagBackup) != want.Has(FlagBackup) {
		return want.Has(FlagBackup)
	}

	return want.Has(FlagFullmesh) && !flags.Has(FlagFullmesh)
}

// replaceImplicit plans the add that replaces the implicit endpoint c. At
// the cap the kernel refuses it, so a pending delete goes first, or, when
// there is none, c itself is deleted and w gets a new id.
func (s *steps) replaceImplicit(c, w Endpoint) {
	if s.count >= MaxEndpoints && len(s.pending) == 0 {
		s.ops = append(s.ops, del(c,
			"implicit endpoint cannot be replaced in place at the cap"))
		s.add(w, "was "+c.String())
		return
	}

	s.freeSlot()
	s.ops = append(s.ops, Op{Kind: OpAdd, Endpoint: w,
		Reason: "replaces implicit endpoint " + c.String()})
	w.ID = c.ID
	s.final = append(s.final, w)
}

// freeSlot moves the first pending delete before the next add when the
// table is full. Diff's slot count guarantees there is one.
func (s *steps) freeSlot() {
	if s.count < MaxEndpoints || len(s.pending) == 0 {
		return
	}
	s.ops = append(s.ops, s.pending[0])
	s.pending = s.pending[1:]
	s.count--
}

// add appends the add of w; the kernel will choose its id.
func (s *steps) add(w Endpoint, reason string) {
	s.ops = append(s.ops, Op{Kind: OpAdd, Endpoint: w, Reason: reason})
	s.final = append(s.final, w)
}

// result is the expected table: known ids in order, then the new ones in
// the order they are added.
func (s *steps) result() []Endpoint {
	var known, added []Endpoint
	for _, e := range s.final {
		if e.ID == 0 {
			added = append(added, e)
			continue
		}
		known = append(known, e)
	}
	slices.SortFunc(known, func(a, b Endpoint) int {
		return cmp.Compare(a.ID, b.ID)
	})

	return append(known, added...)
}

func del(c Endpoint, reason string) Op {
	return Op{Kind: OpDelete, Endpoint: c, Reason: reason}
}

// sortOps orders deletes by id, so plans do not depend on table order.
func sortOps(ops []Op) {
	slices.SortFunc(ops, func(a, b Op) int {
		return cmp.Compare(a.Endpoint.ID, b.Endpoint.ID)
	})
}

func flagWords(f Flags) string {
	if f == 0 {
		return "none"
	}

	return f.String()
}

// wantLimits applies the wanted limits for table to cur.
func wantLimits(cur Limits, fn func([]Endpoint) LimitsWant,
	table []Endpoint) Limits {
	if fn == nil {
		return cur
	}
	w := fn(slices.Clone(table))
	if w.Subflows != nil {
		cur.Subflows = *w.Subflows
	}
	if w.AddAddrAccepted != nil {
		cur.AddAddrAccepted = *w.AddAddrAccepted
	}

	return cur
}

// limitOps raises what goes up before the endpoint ops and lowers what
// goes down after them: one op each way at most.
func limitOps(cur, target Limits) (raise, lower []Op) {
	up := Limits{
		AddAddrAccepted: max(cur.AddAddrAccepted, target.AddAddrAccepted),
		Subflows:        max(cur.Subflows, target.Subflows),
	}
	if up != cur {
		raise = []Op{{Kind: OpSetLimits, Limits: up,
			Reason: "raised before endpoint changes"}}
	}
	if target != up {
		lower = []Op{{Kind: OpSetLimits, Limits: target,
			Reason: "lowered after endpoint changes"}}
	}

	return raise, lower
}
