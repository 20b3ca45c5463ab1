package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// A report is everything one run measured: the table rows and, for each
// figure, the raw samples behind them.
type report struct {
	Date    string            `json:"date"`
	Command string            `json:"command"`
	Kernel  string            `json:"kernel"`
	CPUs    int               `json:"cpus"`
	Smoke   bool              `json:"smoke"`
	Load    []string          `json:"loadavg_start_end"`
	Mptcpd  mptcpdInfo        `json:"mptcpd"`
	Poll    pollInfo          `json:"poll"`
	Rows    []row             `json:"rows"`
	Samples map[string]any    `json:"samples"`
	Notes   []string          `json:"notes"`
	Targets []target          `json:"targets"`
	Errors  map[string]string `json:"errors,omitempty"`
}

type mptcpdInfo struct {
	Version string   `json:"version"`
	Command []string `json:"command"`
}

type pollInfo struct {
	IntervalUS float64 `json:"interval_us"`
	Dumps      int     `json:"dumps"`
	DumpP50US  float64 `json:"dump_p50_us"`
	DumpP90US  float64 `json:"dump_p90_us"`
	DumpP99US  float64 `json:"dump_p99_us"`
}

// A row is one line of the table: one metric of one figure, with a cell
// per contestant and the ratios of mptcp-autopm's value to the floor's and
// to mptcpd's.
type row struct {
	Figure  string          `json:"figure"`
	Metric  string          `json:"metric"`
	Unit    string          `json:"unit"`
	Cells   map[string]cell `json:"cells"`
	ToFloor *float64        `json:"autopm_to_floor,omitempty"`
	ToMpd   *float64        `json:"autopm_to_mptcpd,omitempty"`
}

// A cell is a number, or a word where there is none ("never", "n/a").
type cell struct {
	Value *float64 `json:"value,omitempty"`
	Text  string   `json:"text,omitempty"`
}

func num(v float64) cell { return cell{Value: &v} }
func word(s string) cell { return cell{Text: s} }

func (c cell) String() string {
	switch {
	case c.Value == nil && c.Text == "":
		return "-"
	case c.Value == nil:
		return c.Text
	case c.Text != "":
		return fmtNum(*c.Value) + " " + c.Text
	}

	return fmtNum(*c.Value)
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}

	return fmt.Sprintf("%.2f", v)
}

// addRow appends a row and computes its ratios where both values exist.
func (r *report) addRow(fig, metric, unit string, cells map[string]cell) {
	ro := row{Figure: fig, Metric: metric, Unit: unit, Cells: cells}
	ratio := func(other string) *float64 {
		a, b := cells[autopm].Value, cells[other].Value
		if a == nil || b == nil || *b == 0 {
			return nil
		}
		v := *a / *b

		return &v
	}
	if unit != "n" && unit != "runs" && !strings.HasPrefix(metric, "target") {
		ro.ToFloor, ro.ToMpd = ratio(floor), ratio(mptcpd)
	}
	r.Rows = append(r.Rows, ro)
}

// print writes the table.
func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{autopm, mptcpd, floor, static}
	fmt.Fprintf(tw, "figure\tmetric\tunit\t%s\tx floor\tx mptcpd\t\n",
		strings.Join(cols, "\t"))
	last := ""
	for _, ro := range r.Rows {
		fig := ro.Figure
		if fig == last {
			fig = ""
		}
		last = ro.Figure
		cs := make([]string, len(cols))
		for i, c := range cols {
			cs[i] = ro.Cells[c].String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", fig, ro.Metric, ro.Unit,
			strings.Join(cs, "\t"), fmtRatio(ro.ToFloor), fmtRatio(ro.ToMpd))
	}
	tw.Flush()
}

func fmtRatio(v *float64) string {
	if v == nil {
		return "-"
	}

	return fmtNum(*v) + "x"
}

// write saves the report as indented JSON.
func (r *report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}

	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// quantile returns the q-quantile (0..1) of xs by nearest rank.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1

	return s[max(0, min(i, len(s)-1))]
}

// us and ms convert a duration to the table's units.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// A dist is the samples of one distribution figure for one contestant:
// the times measured, and how many samples never finished in the bounded
// wait.
type dist struct {
	Samples []float64 `json:"samples"`
	Never   int       `json:"never"`
	Skipped int       `json:"skipped,omitempty"`
}

// cells returns the p-quantile cell of d; a contestant that never
// finished any sample shows "never", one that sometimes did not shows the
// quantile and the count of misses.
func (d *dist) cell(q float64) cell {
	if d == nil {
		return cell{}
	}
	if len(d.Samples) == 0 {
		if d.Never > 0 {
			return word(fmt.Sprintf("never (%d/%d)", d.Never, d.Never))
		}
		return word("n/a")
	}

	// Misses count as slower than every hit: they raise the quantile.
	n := len(d.Samples) + d.Never
	k := int(math.Ceil(q*float64(n))) - 1
	if k >= len(d.Samples) {
		return word(fmt.Sprintf("never (%d/%d)", d.Never, n))
	}
	s := slices.Clone(d.Samples)
	slices.Sort(s)

	return num(s[max(k, 0)])
}

// distRows adds the p50, p90 and p99 rows of one figure.
func (r *report) distRows(fig, unit string, ds map[string]*dist) {
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}} {
		cells := map[string]cell{}
		for name, d := range ds {
			cells[name] = d.cell(q.q)
		}
		r.addRow(fig, q.name, unit, cells)
	}
	cells := map[string]cell{}
	for name, d := range ds {
		cells[name] = num(float64(len(d.Samples)))
		if d.Never > 0 || d.Skipped > 0 {
			cells[name] = word(fmt.Sprintf("%d+%d never", len(d.Samples),
				d.Never+d.Skipped))
		}
	}
	r.addRow(fig, "samples", "n", cells)
}
