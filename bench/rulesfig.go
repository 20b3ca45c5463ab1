package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

var nsPerOp = regexp.MustCompile(`BenchmarkDefaultRules64x4\S*\s+\d+\s+([\d.]+) ns/op`)

// rulesFigure measures figure 6 by running the Go benchmark in
// rules_test.go with `go test -bench` from the module root. Only
// mptcp-autopm evaluates rules; the other cells say n/a.
func (b *bench) rulesFigure() error {
	benchtime := "2s"
	if b.cfg.smoke {
		benchtime = "20x"
	}
	cmd := exec.Command("go", "test", "-run", "^$",
		"-bench", "^BenchmarkDefaultRules64x4$", "-benchtime", benchtime,
		"./bench")
	cmd.Dir = b.cfg.src
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %w: %s", err, out)
	}

	m := nsPerOp.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("no ns/op in go test output: %s", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return err
	}

	b.rep.Samples["rules_bench_output"] = strings.TrimSpace(string(out))
	b.rep.addRow("6 rules 64x4", "evaluation", "ns/op", map[string]cell{
		autopm: num(v), mptcpd: word("n/a"), floor: word("n/a"),
	})

	return nil
}
