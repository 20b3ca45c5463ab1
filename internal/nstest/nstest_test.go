package nstest

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestVethAndDo(t *testing.T) {
	a := New(t, "a")
	b := New(t, "b")
	a.Veth("eth0", 10, b, "n0", 20)
	a.IP("addr", "add", "198.51.100.1/24", "dev", "eth0")
	b.IP("addr", "add", "198.51.100.2/24", "dev", "n0")

	if out := a.IP("-br", "link", "show", "eth0"); !strings.Contains(out, "eth0@if20") {
		t.Fatalf("eth0 is not paired with ifindex 20: %q", out)
	}

	// A listener opened inside b is reachable from a and nowhere else.
	var ln net.Listener
	err := b.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "198.51.100.2:0")
		return err
	})
	if err != nil {
		t.Fatalf("listening in %s: %v", b.Name, err)
	}
	defer ln.Close()

	if _, err := net.Listen("tcp", "198.51.100.2:0"); err == nil {
		t.Fatal("198.51.100.2 is bindable outside the test namespace")
	}
	err = a.Do(func() error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		t.Fatalf("dialing from %s: %v", a.Name, err)
	}
}

func TestMPTCPStream(t *testing.T) {
	a := New(t, "a")
	b := New(t, "b")
	a.Veth("eth0", 10, b, "n0", 20)
	a.IP("addr", "add", "198.51.100.1/24", "dev", "eth0")
	b.IP("addr", "add", "198.51.100.2/24", "dev", "n0")

	sink, err := b.ListenMPTCP("198.51.100.2:18080")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	st, err := a.StreamMPTCP(sink.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sink.Received() < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes arrived over MPTCP", sink.Received())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.Stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	out, _ := b.Exec("ss", "-Mtn")
	t.Logf("server sockets after stop:\n%s", out)
}
