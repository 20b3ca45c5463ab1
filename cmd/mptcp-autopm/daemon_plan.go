package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
	"github.com/mptcp-autopm/mptcp-autopm/watchers"
)

func init() {
	register("plan", "print what the daemon would change now, change nothing",
		func(args []string) error { return runPlan(os.Stdout, os.Stderr, args) })
}

// planTimeout bounds the wait for the network dump.
const planTimeout = 10 * time.Second

func runPlan(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("rules", "", "rules `FILE` (default as for run)")
	stateDir := fs.String("state-dir", engine.DefaultStateDir,
		"`DIR` holding which endpoints are ours")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mptcp-autopm plan [--rules FILE] "+
			"[--state-dir DIR] [--json]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	st, err := plan(*path, *stateDir)
	if err != nil {
		return err
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printReport(stdout, st, true)

	return nil
}

// plan reads the network and the path manager once and returns the status
// a reconcile would leave, with the operations it would make.
func plan(rulesPath, stateDir string) (engine.Status, error) {
	set, err := loadRulesFile(rulesPath)
	if err != nil {
		return engine.Status{}, fmt.Errorf("loading rules: %w", err)
	}

	owned, err := loadOwned(stateDir)
	if err != nil {
		return engine.Status{}, err
	}

	client, err := pm.Dial(nil)
	if err != nil {
		return engine.Status{}, fmt.Errorf("connecting to the path manager: %w", err)
	}
	defer client.Close()

	snap, err := dumpNetwork()
	if err != nil {
		return engine.Status{}, err
	}

	eng := engine.New(engine.Config{
		Kernel: client, Rules: set, RulesSource: set.File(), Owned: owned,
	})

	return eng.PlanSnapshot(snap)
}

// dumpNetwork returns the watchers' first snapshot: one dump of links,
// addresses and routes.
func dumpNetwork() (watchers.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), planTimeout)
	defer cancel()

	snaps, err := watchers.Watch(ctx, watchers.Options{})
	if err != nil {
		return watchers.Snapshot{}, fmt.Errorf("reading the network: %w", err)
	}

	select {
	case s, ok := <-snaps:
		if ok {
			return s, nil
		}
	case <-ctx.Done():
	}

	return watchers.Snapshot{}, errors.New("reading the network: no snapshot in time")
}
