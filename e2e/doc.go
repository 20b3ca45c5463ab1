// Package e2e holds the end-to-end tests of mptcp-autopm: the real binary,
// started in a network namespace of the test's own, against the real kernel.
//
// Every scenario of the default policy (see scenarios_test.go, which keeps
// the scenarios' text beside the tests) runs as a subtest. The tests need
// root; without it they skip and say why.
package e2e
