// Command demo shows mptcp-autopm keeping one MPTCP connection alive
// through an undock, a Wi-Fi roam and a USB unplug, in network namespaces
// it makes itself. It never touches the host's own namespace.
//
//	sudo make demo
//
// A "laptop" namespace has eth0 and wlan0 (a veth declared Wi-Fi by a type
// override); a "net" namespace holds their gateways and a server at
// 198.18.0.100. The daemon runs inside the laptop with its default rules.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

const rules = `# The demo's only change to the defaults: a veth has no radio.
[[settings.type]]
match = "wlan*"
type = "wifi"
`

func main() {
	bin := flag.String("bin", "bin/mptcp-autopm", "the mptcp-autopm binary")
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("demo: needs root to create network namespaces (sudo make demo)")
	}

	p := &program{}
	defer p.cleanup()

	// Ctrl-C must still remove the namespaces and stop the daemon.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		p.cleanup()
		os.Exit(130)
	}()

	if err := demo(p, *bin); err != nil {
		p.cleanup()
		log.Fatal(err)
	}
}

func demo(p *program, bin string) error {
	laptop := nstest.New(p, "laptop")
	net := nstest.New(p, "net")
	step("namespaces %s (the laptop) and %s (its networks and a server)", laptop.Name, net.Name)

	laptop.Veth("eth0", 10, net, "n-eth0", 1010)
	laptop.Veth("wlan0", 11, net, "n-wlan0", 1011)
	uplink(laptop, net, "eth0", "192.0.2.10/24", "192.0.2.1", 100)
	uplink(laptop, net, "wlan0", "198.51.100.20/24", "198.51.100.1", 200)
	net.IP("addr", "add", "198.18.0.100/32", "dev", "lo")
	net.IP("mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8")

	dir, err := os.MkdirTemp("", "mptcp-autopm-demo-")
	if err != nil {
		return err
	}
	p.Cleanup(func() { os.RemoveAll(dir) })
	rulesFile := filepath.Join(dir, "rules.toml")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
		return err
	}

	daemon := laptop.Command(bin, "run", "--rules", rulesFile,
		"--state-dir", filepath.Join(dir, "state"),
		"--socket", filepath.Join(dir, "sock"))
	daemon.Stdout, daemon.Stderr = prefixed("  daemon| "), prefixed("  daemon| ")
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("starting the daemon: %w", err)
	}
	p.Cleanup(func() { daemon.Process.Signal(os.Interrupt); daemon.Wait() })
	// The laptop's MPTCP events, through the product's own monitor.
	monitor := laptop.Command(bin, "monitor")
	monitor.Stdout = prefixed("  events| ")
	if err := monitor.Start(); err != nil {
		return fmt.Errorf("starting the monitor: %w", err)
	}
	p.Cleanup(func() { monitor.Process.Signal(os.Interrupt); monitor.Wait() })

	step("mptcp-autopm run, with the default rules")
	settle()
	show(laptop)

	sink, err := net.ListenMPTCP("198.18.0.100:18080")
	if err != nil {
		return err
	}
	p.Cleanup(sink.Close)
	stream, err := laptop.StreamMPTCP(sink.Addr(), 8<<20)
	if err != nil {
		return err
	}
	p.Cleanup(func() { stream.Stop() })
	step("one MPTCP connection from %s streams 8 MB/s to the server", stream.LocalAddr())
	watch(laptop, sink)

	step("undock: eth0 loses carrier (its address stays)")
	net.IP("link", "set", "n-eth0", "down")
	watch(laptop, sink)

	step("redock: eth0 has carrier again")
	net.IP("link", "set", "n-eth0", "up")
	watch(laptop, sink)

	step("roam: wlan0 joins another network (198.51.100.20 goes, 203.0.113.30 comes)")
	laptop.IP("addr", "del", "198.51.100.20/24", "dev", "wlan0")
	uplink(laptop, net, "wlan0", "203.0.113.30/24", "203.0.113.1", 200)
	watch(laptop, sink)

	step("unplug: the eth0 adapter disappears")
	laptop.IP("link", "del", "eth0")
	watch(laptop, sink)

	fmt.Printf("\n### %d bytes sent, %d received over one connection\n",
		stream.Sent(), sink.Received())

	return nil
}

// uplink gives link an address, its gateway on the far end and a default
// route with the given metric.
func uplink(laptop, net *nstest.NS, link, cidr, gw string, metric int) {
	plen := cidr[strings.Index(cidr, "/"):]
	laptop.IP("addr", "add", cidr, "dev", link)
	net.TryIP("addr", "add", gw+plen, "dev", "n-"+link)
	laptop.IP("route", "add", "default", "via", gw, "dev", link,
		"metric", fmt.Sprint(metric))
}

func step(format string, args ...any) {
	fmt.Printf("\n### "+format+"\n", args...)
}

func settle() { time.Sleep(500 * time.Millisecond) }

// watch shows the endpoints, the subflows and the bytes received over the
// next two seconds.
func watch(laptop *nstest.NS, sink *nstest.Sink) {
	before := sink.Received()
	time.Sleep(2 * time.Second)
	show(laptop)
	out, _ := laptop.Exec("ss", "-Htn", "state", "established", "dport", "= :18080")
	fmt.Println("  subflows (ss -tn):")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) >= 4 {
			fmt.Printf("    %s -> %s\n", f[2], f[3])
		}
	}
	fmt.Printf("  received in the last 2 s: %.1f MB\n", float64(sink.Received()-before)/1e6)
}

func show(laptop *nstest.NS) {
	fmt.Println("  ip mptcp endpoint show:")
	for _, l := range strings.Split(strings.TrimSpace(laptop.IP("mptcp", "endpoint", "show")), "\n") {
		fmt.Println("    " + l)
	}
	fmt.Println("  ip mptcp limits show:\n    " + strings.TrimSpace(laptop.IP("mptcp", "limits", "show")))
}

type prefixWriter struct{ prefix string }

func prefixed(p string) *prefixWriter { return &prefixWriter{p} }

func (w *prefixWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Println(w.prefix + l)
	}

	return len(b), nil
}

// program lets nstest run outside a test: failures end the program after
// the cleanups ran.
type program struct {
	mu       sync.Mutex
	cleanups []func()
}

func (p *program) Helper()          {}
func (p *program) Cleanup(f func()) { p.cleanups = append(p.cleanups, f) }
func (p *program) Skip(args ...any) { p.Fatalf("%s", fmt.Sprint(args...)) }
func (p *program) Errorf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+f+"\n", a...)
}

func (p *program) Fatalf(f string, a ...any) {
	p.cleanup()
	log.Fatalf("demo: "+f, a...)
}

// cleanup runs the cleanups once, newest first, whichever of the end of
// main, a failure or a signal comes first.
func (p *program) cleanup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
}
