package main

import (
	"fmt"
	"strings"
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

	b.rep.checkTargets()

	p := b.rep.Poll
	b.rep.Notes = append([]string{
		fmt.Sprintf("poller: one GET_ADDR dump, then nanosleep %s, for every contestant alike; %d dumps took p50 %.0f µs, p90 %.0f µs, p99 %.0f µs. A time is measured to the end of the first dump that shows the change, so it includes up to one interval plus one dump.",
			time.Duration(p.IntervalUS*float64(time.Microsecond)), p.Dumps,
			p.DumpP50US, p.DumpP90US, p.DumpP99US),
		b.mptcpdNote(),
		fmt.Sprintf("machine: %d CPUs, kernel %s, load average at start and end: %q and %q.",
			b.rep.CPUs, b.rep.Kernel, b.rep.Load[0], b.rep.Load[len(b.rep.Load)-1]),
		"floor: this bench re-run as a daemon inside the namespace (-floor): on each rtnetlink link or address event it at once adds or deletes one plain subflow endpoint per global IPv4 address on a link with carrier, through package pm; no rules, no route check, no debounce. It counts its own kernel operations.",
	}, b.rep.Notes...)
}

// A target is one of the goals, checked against the table for the
// reader; nothing fails when one is missed.
type target struct {
	Goal   string `json:"goal"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// value is the number in a row's cell, and whether there is one.
func (r *report) value(fig, metric, who string) (float64, bool) {
	for _, ro := range r.Rows {
		if strings.HasPrefix(ro.Figure, fig) && ro.Metric == metric {
			if v := ro.Cells[who].Value; v != nil {
				return *v, true
			}
		}
	}

	return 0, false
}

// has reports whether figure fig has rows.
func (r *report) has(fig string) bool {
	for _, ro := range r.Rows {
		if strings.HasPrefix(ro.Figure, fig) {
			return true
		}
	}

	return false
}

// allRuns reports whether a "k/n" cell says every run.
func allRuns(s string) bool {
	k, n, ok := strings.Cut(s, "/")

	return ok && k == n
}

// runsTarget checks a burst row that counts runs.
func (r *report) runsTarget(goal, metric string) target {
	s := r.text("4 ", metric, autopm)

	return target{Goal: goal, Met: allRuns(s), Detail: s + " runs"}
}

// text is the word in a row's cell.
func (r *report) text(fig, metric, who string) string {
	for _, ro := range r.Rows {
		if strings.HasPrefix(ro.Figure, fig) && ro.Metric == metric {
			return ro.Cells[who].Text
		}
	}

	return ""
}

// checkTargets compares mptcp-autopm's numbers with the targets.
func (r *report) checkTargets() {
	cmp := func(goal, fig, metric, other string, factor float64) {
		if !r.has(fig) {
			return // figure not run
		}
		a, okA := r.value(fig, metric, autopm)
		b, okB := r.value(fig, metric, other)
		t := target{Goal: goal}
		switch {
		case !okA:
			t.Detail = "mptcp-autopm has no value"
		case !okB:
			t.Met, t.Detail = true, other+" has no value (never)"
		default:
			t.Met = a <= b*factor
			t.Detail = fmt.Sprintf("%s vs %s", fmtNum(a), fmtNum(b*factor))
		}
		r.Targets = append(r.Targets, t)
	}
	cmp("reaction p50 <= mptcpd's", "1 ", "p50", mptcpd, 1)
	cmp("carrier loss p50 within 1.2x floor", "3 ", "p50", floor, 1.2)
	cmp("carrier loss p99 within 1.2x floor", "3 ", "p99", floor, 1.2)
	if r.has("4 ") {
		r.Targets = append(r.Targets, r.burstTarget(), r.runsTarget(
			"burst ops within first reaction + minimal diff",
			"ops <= first reaction + minimal diff"))
	}
	cmp("failover gap shorter than mptcpd's", "7 ", "longest stall p50", mptcpd, 1)
	cmp("failover gap shorter than static's", "7 ", "longest stall p50", static, 1)
	if v, ok := r.value("5 ", "peak RSS (VmHWM)", autopm); ok {
		r.Targets = append(r.Targets, target{Goal: "RSS < 12 MiB", Met: v < 12,
			Detail: fmtNum(v) + " MiB"})
	}
}

func (r *report) burstTarget() target {
	t := target{Goal: "burst settled within 20 ms + 13 ms per needed delete, table right"}
	s, okS := r.value("4 ", "settle p50", autopm)
	g, okG := r.value("4 ", "target: 20 + 13/delete (round 1)", autopm)
	if !okS || !okG {
		t.Detail = "no settle time"
		return t
	}
	right := r.text("4 ", "final table right", autopm)
	t.Met = s <= g && allRuns(right)
	t.Detail = fmt.Sprintf("%s ms vs %s ms, right in %s runs", fmtNum(s),
		fmtNum(g), right)

	return t
}

func (b *bench) mptcpdNote() string {
	if b.rep.Mptcpd.Version == "" {
		return "mptcpd could not be fetched, so its column is empty: " +
			b.rep.Errors["mptcpd"]
	}

	return fmt.Sprintf("mptcpd (%s) runs as: %s. That is one flag set for every address: no backup for Wi-Fi, no carrier or default-route check, IPv4 169.254/16 not skipped (observed), and it sets both limits itself as it adds endpoints (observed: 2/2 with none, 5/5 with three); mptcp-autopm's default policy makes Wi-Fi backup beside a wired uplink, keeps endpoints off links without carrier or default route and computes the limits. mptcpd logs none of its kernel operations.",
		b.rep.Mptcpd.Version, strings.Join(b.rep.Mptcpd.Command, " "))
}
