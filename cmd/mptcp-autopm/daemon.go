package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/rules"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

// defaultSocket is where the daemon answers status and reload requests;
// systemd's RuntimeDirectory=mptcp-autopm creates its directory.
const defaultSocket = engine.DefaultStateDir + "/mptcp-autopm.sock"

func init() {
	register("run", "run the daemon in the foreground",
		func(args []string) error { return runDaemon(os.Stderr, args) })
}

// runFlags are the options of `run`.
type runFlags struct {
	rules        string
	socket       string
	stateDir     string
	dryRun       bool
	resync       time.Duration
	removeOnExit bool
	level        slog.Level
}

func parseRunFlags(stderr io.Writer, args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.rules, "rules", "", "rules `FILE`; default "+
		rules.DefaultPath+" when it exists, else the embedded rules")
	fs.StringVar(&f.socket, "socket", defaultSocket,
		"control socket `PATH` for status and reload; its directory "+
			"must exist, except the default's, which is created")
	fs.StringVar(&f.stateDir, "state-dir", engine.DefaultStateDir,
		"`DIR` keeping which endpoints are ours, per network namespace; "+
			"created when missing, but not its parent")
	fs.BoolVar(&f.dryRun, "dry-run", false,
		"log the operations a reconcile would make, apply none")
	fs.DurationVar(&f.resync, "resync", 0,
		"re-read the kernel every `DURATION` (default: the rules' "+
			"resync_interval, else 30s)")
	fs.BoolVar(&f.removeOnExit, "remove-on-exit", false,
		"remove our endpoints when stopped by SIGTERM or SIGINT")
	fs.TextVar(&f.level, "log-level", slog.LevelInfo,
		"log `LEVEL`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mptcp-autopm run [--rules FILE] "+
			"[--socket PATH] [--state-dir DIR] [--dry-run] [--resync DUR] "+
			"[--remove-on-exit] [--log-level L]")
		fs.PrintDefaults()
	}

	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}

	return f, nil
}

// loadRulesFile loads path, or the default rules when path is "".
func loadRulesFile(path string) (*rules.Set, error) {
	if path == "" {
		return rules.LoadDefault()
	}

	return rules.Load(path)
}

// daemon is one `run`: the engine and what feeds and serves it.
type daemon struct {
	flags *runFlags
	log   *slog.Logger
	eng   *engine.Engine

	reloadMu sync.Mutex
}

// daemonGCPercent is the daemon's GOGC; see runDaemon.
const daemonGCPercent = 20

func runDaemon(stderr io.Writer, args []string) error {
	f, err := parseRunFlags(stderr, args)
	if err != nil {
		return err
	}

	// The daemon's live heap is a few hundred kilobytes, so the default
	// GOGC of 100 mostly holds garbage: at 20 the peak resident memory
	// with 8 links drops from 13.5 to 11 MiB (VmHWM), and collecting so
	// small a heap costs nothing measurable while idle. GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(daemonGCPercent)
	}

	log := slog.New(slog.NewTextHandler(stderr,
		&slog.HandlerOptions{Level: f.level}))
	d := &daemon{flags: f, log: log.With("component", "daemon")}

	return d.run(log)
}

func (d *daemon) run(log *slog.Logger) error {
	// Paths first: a mistyped one fails before the kernel is touched.
	if err := socketDir(d.flags.socket); err != nil {
		return err
	}

	if err := stateDir(d.flags.stateDir); err != nil {
		return err
	}

	set, err := loadRulesFile(d.flags.rules)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}

	owned, err := loadOwned(d.flags.stateDir)
	if err != nil {
		return err
	}

	client, err := pm.Dial(nil)
	if err != nil {
		return fmt.Errorf("connecting to the path manager: %w", err)
	}
	defer client.Close()

	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	snaps, err := watchers.Watch(ctx, watchers.Options{
		Log: log, MPTCPEvents: true,
	})
	if err != nil {
		return fmt.Errorf("watching the network: %w", err)
	}

	d.eng = engine.New(engine.Config{
		Kernel: client, Rules: set, RulesSource: set.File(),
		Owned: owned, Log: log, DryRun: d.flags.dryRun,
		Resync: d.flags.resync,
	})

	return d.serve(ctx, snaps)
}

// loadOwned reads the ownership state of the namespace the daemon runs
// in.
func loadOwned(dir string) (*engine.Owned, error) {
	nsid, err := engine.NetNSID()
	if err != nil {
		return nil, err
	}

	return engine.LoadOwned(engine.OwnedPath(dir, nsid))
}

// stateDir makes sure a state directory given with --state-dir exists:
// the directory itself is created, but not a chain of parents, so that a
// typo creates no directories at an arbitrary place. The engine creates
// the default one when it first saves.
func stateDir(dir string) error {
	if dir == engine.DefaultStateDir {
		return nil
	}

	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return mkStateDir(dir)
	}
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}

	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory", dir)
	}

	return nil
}

// mkStateDir creates dir, whose parent must exist. Mode 0700 as the
// engine's own.
func mkStateDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state directory %s: its parent %s does not exist "+
			"(create it, or choose another --state-dir): %w",
			dir, filepath.Dir(dir), err)
	}
	if err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}

	return nil
}

// serve runs the engine, the control socket and the reload signal until
// ctx ends.
func (d *daemon) serve(ctx context.Context,
	snaps <-chan watchers.Snapshot) error {
	ln, err := listenControl(d.flags.socket)
	if err != nil {
		return err
	}
	srv := newControlServer(d)
	go srv.Serve(ln)
	defer srv.Close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go d.reloadOnSignal(ctx, hup)

	d.log.Info("started", "rules", d.eng.Status().Rules,
		"socket", d.flags.socket, "dry_run", d.flags.dryRun)
	notify("READY=1")

	err = d.eng.Run(ctx, snaps)
	notify("STOPPING=1")
	d.log.Info("stopping")
	if d.flags.removeOnExit && !d.flags.dryRun {
		err = errors.Join(err, d.eng.RemoveOurs())
	}

	return err
}

func (d *daemon) reloadOnSignal(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.log.Info("reloading on SIGHUP")
			d.reload()
		}
	}
}

// reload loads the rules file again. A broken file keeps the previous
// rules, and the engine's status shows why until a reload succeeds.
func (d *daemon) reload() (string, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()

	notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer notify("READY=1")

	set, err := loadRulesFile(d.flags.rules)
	if err != nil {
		err = fmt.Errorf("reloading rules: %w", err)
		d.eng.RulesFailed(err)
		return "", err
	}

	d.eng.Reload(set, set.File())

	return set.File(), nil
}
