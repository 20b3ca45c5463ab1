package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	bin            string
	out            string
	work           string
	mptcpdDir      string
	src            string
	smoke          bool
	samples        int
	carrierSamples int
	bursts         int
	burstOps       int
	idle           time.Duration
	failoverRuns   int
	wait           time.Duration
	poll           time.Duration
	only           string
}

// A bench is one run.
type bench struct {
	cfg    config
	launch *launcher
	poll   *poller
	rep    *report
}

func main() {
	var cfg config
	floorMode := flag.Bool("floor", false, "run as the floor daemon (used by the bench itself)")
	flag.StringVar(&cfg.bin, "bin", "./bin/mptcp-autopm", "mptcp-autopm binary")
	flag.StringVar(&cfg.out, "out", "", "JSON report path (default WORK/bench-DATE.json)")
	flag.StringVar(&cfg.work, "work", defaultWork(), "directory for mptcpd, logs and reports")
	flag.StringVar(&cfg.mptcpdDir, "mptcpd", "", "where mptcpd is unpacked (default WORK)")
	flag.StringVar(&cfg.src, "src", ".", "module root, for the rules benchmark (go test)")
	flag.BoolVar(&cfg.smoke, "smoke", false, "few samples, short idle: proves the harness works")
	flag.StringVar(&cfg.only, "only", "", "comma-separated figures to run (1-7), default all")
	names := flag.String("contestants", strings.Join(contestants, ","),
		"contestants to run")
	flag.DurationVar(&cfg.poll, "poll", 50*time.Microsecond, "sleep between table dumps")
	flag.Parse()

	if *floorMode {
		if err := runFloor(); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}

	contestants = strings.Split(*names, ",")
	cfg.defaults()
	os.Exit(runMain(cfg))
}

func defaultWork() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}

	return filepath.Join(dir, "mptcp-autopm-bench")
}

// defaults sets the sample counts of a full run or of a smoke run.
func (c *config) defaults() {
	c.samples, c.carrierSamples, c.bursts, c.burstOps = 200, 30, 3, 1000
	c.idle, c.failoverRuns, c.wait = 30*time.Second, 3, 3*time.Second
	if c.smoke {
		c.samples, c.carrierSamples, c.bursts, c.burstOps = 5, 2, 1, 200
		c.idle, c.failoverRuns, c.wait = 2*time.Second, 1, 2*time.Second
	}
}

func runMain(cfg config) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "bench: %s: cleaning up\n", s)
		runCleanups()
		os.Exit(130)
	}()
	defer runCleanups()

	b, err := newBench(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	b.runFigures()
	b.rep.Load = append(b.rep.Load, loadavg())
	b.finish()

	if err := b.rep.write(b.cfg.out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Printf("\nmptcp-autopm bench, %s, kernel %s, %d CPUs: %s\n\n",
		b.rep.Date, b.rep.Kernel, b.rep.CPUs, b.rep.Command)
	b.rep.print(os.Stdout)
	fmt.Printf("\nnotes:\n")
	for _, n := range b.rep.Notes {
		fmt.Printf("- %s\n", n)
	}
	fmt.Printf("\ntargets (for reading; nothing asserts them):\n")
	for _, t := range b.rep.Targets {
		met := "missed"
		if t.Met {
			met = "met"
		}
		fmt.Printf("- %-6s %s: %s\n", met, t.Goal, t.Detail)
	}
	for fig, e := range b.rep.Errors {
		fmt.Printf("ERROR in figure %s: %s\n", fig, e)
	}
	fmt.Printf("\nJSON report: %s\n", b.cfg.out)
	if len(b.rep.Errors) > 0 {
		return 1
	}

	return 0
}

func newBench(cfg config) (*bench, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root: it makes network namespaces")
	}
	if _, err := os.Stat("/proc/sys/net/mptcp/enabled"); err != nil {
		return nil, errors.New("this kernel has no MPTCP")
	}

	if err := os.MkdirAll(cfg.work, 0o755); err != nil {
		return nil, err
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(cfg.work,
			"bench-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	}

	bin, err := filepath.Abs(cfg.bin)
	if err != nil {
		return nil, err
	}
	cfg.bin = bin
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}

	if cfg.mptcpdDir == "" {
		cfg.mptcpdDir = cfg.work
	}
	// Without mptcpd the other figures still mean something: run them
	// and say why its column is empty.
	mpd, mpdErr := fetchMptcpd(cfg.mptcpdDir)
	if mpdErr != nil {
		fmt.Fprintf(os.Stderr, "bench: %v; running without mptcpd\n", mpdErr)
		contestants = slices.DeleteFunc(contestants,
			func(c string) bool { return c == mptcpd })
	}

	if err := writeAutopmRules(cfg.work); err != nil {
		return nil, err
	}

	b := &bench{
		cfg: cfg,
		launch: &launcher{work: cfg.work, bin: bin, self: self, mptcpd: mpd,
			logs: filepath.Join(cfg.work, "logs",
				time.Now().UTC().Format("20060102T150405Z"))},
		poll: &poller{interval: cfg.poll},
		rep:  newReport(cfg, mpd),
	}
	if mpdErr != nil {
		b.rep.Errors["mptcpd"] = mpdErr.Error()
	}

	return b, nil
}

func newReport(cfg config, mpd mptcpdInfoSource) *report {
	var u unix.Utsname
	unix.Uname(&u)

	return &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Command: strings.Join(append([]string{"bench"}, os.Args[1:]...), " "),
		Kernel:  unix.ByteSliceToString(u.Release[:]),
		CPUs:    runtime.NumCPU(),
		Smoke:   cfg.smoke,
		Mptcpd:  mpd.info(),
		Samples: map[string]any{},
		Errors:  map[string]string{},
		Load:    []string{loadavg()},
	}
}

// loadavg is /proc/loadavg: other work on the machine skews every figure.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")

	return strings.TrimSpace(string(b))
}

type mptcpdInfoSource interface{ info() mptcpdInfo }

func (m mptcpdBin) info() mptcpdInfo {
	return mptcpdInfo{
		Version: m.version,
		Command: append([]string{"mptcpd", "--plugin-dir=..."}, mptcpdFlags...),
	}
}

// figures are run in this order; each one that fails is reported and the
// others still run.
func (b *bench) runFigures() {
	figs := []struct {
		id  string
		run func() error
	}{
		{"1,2,3", b.reactionFigures},
		{"4", b.burstFigure},
		{"5", b.idleFigure},
		{"6", b.rulesFigure},
		{"7", b.failoverFigure},
	}
	for _, f := range figs {
		if !b.wants(strings.Split(f.id, ",")) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: figure %s ...\n", f.id)
		start := time.Now()
		if err := f.run(); err != nil {
			b.rep.Errors[f.id] = err.Error()
			fmt.Fprintf(os.Stderr, "bench: figure %s: %v\n", f.id, err)
		}
		runCleanups()
		fmt.Fprintf(os.Stderr, "bench: figure %s took %s\n", f.id,
			time.Since(start).Round(time.Millisecond))
	}
}

// wants reports whether -only selects any of ids.
func (b *bench) wants(ids []string) bool {
	if b.cfg.only == "" {
		return true
	}
	for _, w := range strings.Split(b.cfg.only, ",") {
		if slices.Contains(ids, strings.TrimSpace(w)) {
			return true
		}
	}

	return false
}

func init() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr,
		&slog.HandlerOptions{Level: slog.LevelInfo})))
}
