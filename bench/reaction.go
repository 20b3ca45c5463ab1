package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// A rig is one contestant's env with its daemon running and the poller
// watching its table.
type rig struct {
	name string
	env  *env
	d    *daemon // nil for static
	w    *watch
}

// newRig builds an env with links named names, starts contestant name in
// it and waits until the daemon has made an endpoint for every link's
// first address.
func (b *bench) newRig(name, tag string, names ...string) (*rig, error) {
	e, err := newEnv(tag, names...)
	if err != nil {
		return nil, err
	}

	r := &rig{name: name, env: e}
	if r.w, err = b.poll.watch(e.host); err != nil {
		return nil, err
	}

	if name == static {
		return r, nil
	}

	if r.d, err = b.launch.start(name, e.host); err != nil {
		return nil, err
	}

	want := make([]int, len(names))
	for k := range want {
		want[k] = k
	}
	if err := r.ready(want, 10*time.Second); err != nil {
		return nil, err
	}
	if name != mptcpd { // mptcpd logs no operations
		r.d.quiet(200*time.Millisecond, 5*time.Second)
	}

	return r, nil
}

// ready waits until the table has an endpoint for the first address of
// each link in links.
func (r *rig) ready(links []int, timeout time.Duration) error {
	_, eps, ok, err := r.w.until(timeout, func(eps []pm.Endpoint) bool {
		for _, k := range links {
			if _, found := find(eps, addr(k, 1)); !found {
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	if !ok {
		if r.d != nil && r.d.exited() {
			return fmt.Errorf("%s exited (log %s)", r.name, r.d.log)
		}
		return fmt.Errorf("%s made no endpoint for every link within %s; table:\n%s",
			r.name, timeout, render(eps))
	}

	return nil
}

// close stops the daemon and deletes the env.
func (r *rig) close() {
	if r.d != nil {
		r.d.stop()
	}
	r.w.close()
	r.env.close()
}

// find returns the endpoint of address a.
func find(eps []pm.Endpoint, a netip.Addr) (pm.Endpoint, bool) {
	for _, e := range eps {
		if e.Addr == a {
			return e, true
		}
	}

	return pm.Endpoint{}, false
}

// reactionFigures measures figures 1 to 3 on a one-link env per
// contestant. Samples alternate between contestants, in a fresh random
// order each round, so that drift on the machine hits them all alike.
func (b *bench) reactionFigures() error {
	rigs := map[string]*rig{}
	for _, name := range contestants {
		r, err := b.newRig(name, "react-"+short(name), "eth0")
		if err != nil {
			return err
		}
		defer r.close()
		rigs[name] = r
	}

	rng := rand.New(rand.NewPCG(1, 2))
	if err := b.addRemoveFigures(rigs, rng); err != nil {
		return err
	}

	return b.carrierFigure(rigs, rng)
}

// addRemoveFigures measures figures 1 and 2.
func (b *bench) addRemoveFigures(rigs map[string]*rig, rng *rand.Rand) error {
	react, removal, call := b.dists(), b.dists(), b.dists()
	order := append([]string(nil), contestants...)
	for i := range b.cfg.samples {
		shuffle(rng, order)
		for _, name := range order {
			h := 10 + i%200
			if err := rigs[name].addRemove(h, react[name], removal[name],
				call[name], b.cfg.wait); err != nil {
				return fmt.Errorf("%s sample %d: %w", name, i, err)
			}
		}
	}

	b.rep.distRows("1 reaction", "µs", react)
	cells := map[string]cell{}
	for name, d := range call {
		cells[name] = d.cell(0.5)
	}
	b.rep.addRow("1 reaction", "of which RTM_NEWADDR p50", "µs", cells)
	b.rep.distRows("2 removal", "ms", scaleDists(removal, 1e-3))
	b.rep.Samples["reaction_us"] = react
	b.rep.Samples["removal_us"] = removal
	b.rep.Samples["newaddr_call_us"] = call

	return nil
}

// carrierFigure measures figure 3.
func (b *bench) carrierFigure(rigs map[string]*rig, rng *rand.Rand) error {
	carrier := b.dists()
	order := append([]string(nil), contestants...)
	for i := range b.cfg.carrierSamples {
		shuffle(rng, order)
		for _, name := range order {
			err := rigs[name].carrierLoss(carrier[name], b.cfg.wait)
			if err != nil {
				return fmt.Errorf("%s carrier sample %d: %w", name, i, err)
			}
		}
	}
	b.rep.distRows("3 carrier loss", "ms", scaleDists(carrier, 1e-3))
	b.rep.Samples["carrier_loss_us"] = carrier

	return nil
}

func (b *bench) dists() map[string]*dist {
	m := map[string]*dist{}
	for _, name := range contestants {
		m[name] = &dist{}
	}

	return m
}

func scaleDists(ds map[string]*dist, f float64) map[string]*dist {
	out := map[string]*dist{}
	for name, d := range ds {
		s := &dist{Never: d.Never, Skipped: d.Skipped}
		for _, v := range d.Samples {
			s.Samples = append(s.Samples, v*f)
		}
		out[name] = s
	}

	return out
}

// sampleAddr is the address of reaction sample h: 10.2.0.h, in a subnet
// of its own on eth0, beside 10.1.0.1 and the default route via
// 10.1.0.254. Only one exists at a time, so it is always a primary
// address: an IPv4 secondary address carries IFA_F_SECONDARY, the same
// bit (0x01) as IPv6's IFA_F_TEMPORARY (include/uapi/linux/if_addr.h), a
// case this figure leaves to the scenario tests.
func sampleAddr(h int) netip.Addr { return netip.AddrFrom4([4]byte{10, 2, 0, byte(h)}) }

// addRemove adds 10.2.0.h/24 to eth0, times until its endpoint is in the
// table, deletes the address and times until the endpoint is gone.
// Reaction is from just before RTM_NEWADDR is sent to the end of the first
// dump that shows the endpoint.
//
// call gets how long the RTM_NEWADDR request itself took to be acked: part
// of every reaction time, and longer while a daemon reacts.
func (r *rig) addRemove(h int, react, removal, call *dist,
	wait time.Duration) error {
	a := sampleAddr(h)
	if err := r.clean(a); err != nil {
		return err
	}

	start := time.Now()
	if err := r.env.addIP(0, a); err != nil {
		return err
	}
	record(call, true, time.Since(start))
	at, _, ok, err := r.w.until(wait, func(eps []pm.Endpoint) bool {
		_, found := find(eps, a)
		return found
	})
	if err != nil {
		return err
	}
	record(react, ok, at.Sub(start))

	start = time.Now()
	if err := r.env.delIP(0, a); err != nil {
		return err
	}
	if !ok {
		return nil // nothing to wait for
	}
	at, _, ok, err = r.w.until(wait, func(eps []pm.Endpoint) bool {
		_, found := find(eps, a)
		return !found
	})
	if err != nil {
		return err
	}
	record(removal, ok, at.Sub(start))

	return nil
}

// clean deletes an endpoint for a that a contestant left behind, so that
// the next sample does not find it there already.
func (r *rig) clean(a netip.Addr) error {
	eps, _, err := r.w.dump()
	if err != nil {
		return err
	}
	e, found := find(eps, a)
	if !found {
		return nil
	}
	slog.Debug("deleting leftover endpoint", "contestant", r.name, "endpoint", e)

	return r.w.c.DeleteEndpoint(e.ID, e.Addr)
}

func record(d *dist, ok bool, took time.Duration) {
	if ok {
		d.Samples = append(d.Samples, us(took))
	} else {
		d.Never++
	}
}

// maxNeverInARow ends a contestant's carrier samples early: each miss costs
// the whole bounded wait.
const maxNeverInARow = 3

// carrierLoss takes eth0's carrier away (its far end goes down; eth0 keeps
// 10.1.0.1 and its route), times until 10.1.0.1's endpoint is removed or
// changed, then restores carrier and waits for the endpoint to come back.
func (r *rig) carrierLoss(d *dist, wait time.Duration) error {
	if d.Never >= maxNeverInARow && len(d.Samples) == 0 {
		d.Skipped++
		return nil
	}

	a := addr(0, 1)
	_, eps, ok, err := r.w.until(wait, func(eps []pm.Endpoint) bool {
		_, found := find(eps, a)
		return found
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no endpoint for %s before the sample; table:\n%s",
			a, render(eps))
	}
	before, _ := find(eps, a)

	start := time.Now()
	if err := r.env.carrier(0, false); err != nil {
		return err
	}
	at, _, ok, err := r.w.until(wait, func(eps []pm.Endpoint) bool {
		e, found := find(eps, a)
		return !found || e.Flags != before.Flags
	})
	if err != nil {
		return err
	}
	record(d, ok, at.Sub(start))

	return r.restore(before, wait)
}

// restore gives eth0 its carrier back and waits until the endpoint is as
// it was before the carrier loss.
func (r *rig) restore(before pm.Endpoint, wait time.Duration) error {
	if err := r.env.carrier(0, true); err != nil {
		return err
	}

	_, eps, ok, err := r.w.until(wait, func(eps []pm.Endpoint) bool {
		e, found := find(eps, before.Addr)
		return found && e.Flags == before.Flags
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("endpoint for %s not restored after carrier came back; table:\n%s",
			before.Addr, render(eps))
	}

	return nil
}

// short is a contestant's name as namespace names carry it.
func short(name string) string {
	switch name {
	case autopm:
		return "apm"
	case mptcpd:
		return "mpd"
	}

	return name[:min(len(name), 5)]
}

// shuffle puts the contestants in a new random order for the next round.
func shuffle(rng *rand.Rand, order []string) {
	rng.Shuffle(len(order), func(a, c int) {
		order[a], order[c] = order[c], order[a]
	})
}
