package main

import (
	"fmt"
	"time"
)

// finish fills in what the poller cost and the notes that explain the
// table.
func (b *bench) finish() {
	dumps := b.poll.dumpTimes()
	b.rep.Poll = pollInfo{IntervalUS: us(b.cfg.poll), Dumps: len(dumps)}
	if len(dumps) > 0 {
		xs := make([]float64, len(dumps))
		for i, d := range dumps {
			xs[i] = us(d)
		}
		b.rep.Poll.DumpP50US = quantile(xs, 0.5)
		b.rep.Poll.DumpP90US = quantile(xs, 0.9)
		b.rep.Poll.DumpP99US = quantile(xs, 0.99)
	}

	p := b.rep.Poll
	b.rep.Notes = append([]string{
		fmt.Sprintf("poller: one GET_ADDR dump, then nanosleep %s, for every contestant alike; %d dumps took p50 %.0f µs, p90 %.0f µs, p99 %.0f µs. A time is measured to the end of the first dump that shows the change, so it includes up to one interval plus one dump.",
			time.Duration(p.IntervalUS*float64(time.Microsecond)), p.Dumps,
			p.DumpP50US, p.DumpP90US, p.DumpP99US),
		fmt.Sprintf("mptcpd %s runs as: %v. That is one flag set for every address: no backup for Wi-Fi, no carrier or default-route check, IPv4 169.254/16 not skipped (observed), while mptcp-autopm's default policy makes Wi-Fi backup beside a wired uplink and keeps endpoints off links without carrier or default route.",
			b.rep.Mptcpd.Version, b.rep.Mptcpd.Command),
		fmt.Sprintf("machine: %d CPUs, kernel %s, load average at start and end: %q and %q.",
			b.rep.CPUs, b.rep.Kernel, b.rep.Load[0], b.rep.Load[len(b.rep.Load)-1]),
		"floor: this bench re-run as a daemon inside the namespace (-floor): on each rtnetlink link or address event it at once adds or deletes one plain subflow endpoint per global IPv4 address on a link with carrier, through package pm; no rules, no route check, no debounce. It counts its own kernel operations.",
	}, b.rep.Notes...)
}
