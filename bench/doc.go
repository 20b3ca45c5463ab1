// Command bench measures mptcp-autopm against mptcpd and against a floor,
// the least a path manager can do, in network namespaces of its own, and
// prints one table (also written as JSON). README.md says what each figure
// means and how it is measured.
//
// It must run as root: it makes namespaces (all named mpa-bench-*), runs
// every daemon only inside them, and never changes the network namespace
// it runs in.
//
// Files: main.go runs the figures; ns.go and env.go build the namespaces
// and links; mptcpd.go fetches and unpacks mptcpd; daemon.go, autopm.go
// and floor.go start the contestants and count their kernel operations;
// poller.go watches endpoint tables; reaction.go, burst.go, idle.go,
// rulesfig.go and failover.go measure figures 1-3, 4, 5, 6 and 7;
// report.go and finish.go make the table, the JSON and the targets.
package main
