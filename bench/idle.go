package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux architecture the bench runs on.
const clockTicks = 100

// A usage is what /proc says a process has used so far.
type usage struct {
	cpu      time.Duration // utime + stime, all threads
	onCPU    time.Duration // schedstat run time, summed over threads
	switches int64         // voluntary + nonvoluntary, summed over threads
	hwm      int64         // VmHWM, bytes
}

func readUsage(pid int) (usage, error) {
	var u usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces; utime and stime are fields 14 and 15 of stat.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u.cpu = time.Duration(utime+stime) * time.Second / clockTicks

	// The status of the process counts the main thread's switches only;
	// a Go daemon wakes on other threads, so sum every task's.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, t := range tasks {
		v, _ := statusFields(filepath.Join(t, "status"))
		u.switches += v["voluntary_ctxt_switches"] +
			v["nonvoluntary_ctxt_switches"]
		u.onCPU += schedRun(filepath.Join(t, "schedstat"))
	}

	v, err := statusFields(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	u.hwm = v["VmHWM"] * 1024

	return u, nil
}

// schedRun is the first field of a task's schedstat: nanoseconds spent
// on a CPU. utime and stime count in 10 ms ticks, too coarse for an idle
// daemon.
func schedRun(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)

	return time.Duration(ns)
}

// statusFields reads the numeric fields of a /proc status file; kB values
// stay in kB.
func statusFields(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	v := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.Fields(val + " x")[0], 10, 64)
		if err == nil {
			v[key] = n
		}
	}

	return v, sc.Err()
}

// An idleRun is one contestant's cost over the idle window.
type idleRun struct {
	Seconds  float64 `json:"window_s"`
	CPU      float64 `json:"cpu_s"`
	OnCPUMS  float64 `json:"schedstat_ms"`
	Wakeups  int64   `json:"wakeups"`
	HWMBytes int64   `json:"vmhwm_bytes"`
}

// idleFigure measures figure 5: every contestant runs in an 8-link env of
// its own, all at once, and nothing changes for the idle window; the
// poller is off meanwhile.
func (b *bench) idleFigure() error {
	rigs := map[string]*rig{}
	for _, name := range contestants {
		r, err := b.newRig(name, "idle-"+short(name), burstNames()...)
		if err != nil {
			return err
		}
		defer r.close()
		rigs[name] = r
	}

	// Let start-up work (initial resync, logging) finish first.
	time.Sleep(2 * time.Second)

	before := map[string]usage{}
	for name, r := range rigs {
		u, err := readUsage(r.d.pid())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		before[name] = u
	}
	start := time.Now()
	time.Sleep(b.cfg.idle)
	window := time.Since(start)

	runs := map[string]idleRun{}
	for name, r := range rigs {
		u, err := readUsage(r.d.pid())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		runs[name] = idleRun{
			Seconds:  window.Seconds(),
			CPU:      (u.cpu - before[name].cpu).Seconds(),
			OnCPUMS:  ms(u.onCPU - before[name].onCPU),
			Wakeups:  u.switches - before[name].switches,
			HWMBytes: u.hwm,
		}
	}
	b.rep.Samples["idle"] = runs
	b.idleRows(runs, window)

	return nil
}

func (b *bench) idleRows(runs map[string]idleRun, window time.Duration) {
	cpu, wake, hwm := map[string]cell{}, map[string]cell{}, map[string]cell{}
	sched := map[string]cell{}
	for name, run := range runs {
		cpu[name] = num(run.CPU)
		sched[name] = num(run.OnCPUMS)
		wake[name] = num(float64(run.Wakeups))
		hwm[name] = num(float64(run.HWMBytes) / (1 << 20))
	}

	fig := fmt.Sprintf("5 idle %.0fs", window.Seconds())
	b.rep.addRow(fig, "CPU (utime+stime)", "s", cpu)
	b.rep.addRow(fig, "CPU (schedstat)", "ms", sched)
	b.rep.addRow(fig, "wakeups", "n", wake)
	b.rep.addRow(fig, "peak RSS (VmHWM)", "MiB", hwm)
}
