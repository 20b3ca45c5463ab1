package watchers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mptcp-autopm/mptcp-autopm/internal/nstest"
)

// lockedBuffer is a bytes.Buffer for a log handler written from several
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.b.String()
}

// TestWatchOverrun floods a watcher that has a tiny receive buffer with
// address changes, so that multicast messages are dropped (ENOBUFS), and
// checks that the watcher resyncs and the snapshot still ends as the
// whole truth.
func TestWatchOverrun(t *testing.T) {
	const n = 400
	ns := nstest.New(t, "wflood")
	ns.IP("link", "add", "d0", "type", "bridge")
	ns.IP("link", "set", "d0", "up")

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs,
		&slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := Watch(ctx, Options{NetNS: ns.Path(), RcvBuf: 1, Log: log})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	waitFor(t, ch, "d0", func(s Snapshot) bool {
		_, ok := linkNamed(s, "d0")
		return ok
	})

	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "addr add 10.99.%d.%d/32 dev d0\n", i/200, i%200+1)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.IP("-batch", file)

	count := func(s Snapshot) int {
		k := 0
		for _, a := range s.Addrs {
			if a.Prefix.Addr().Is4() && a.Prefix.Bits() == 32 {
				k++
			}
		}
		return k
	}
	waitFor(t, ch, fmt.Sprint(n, " addresses"), func(s Snapshot) bool {
		return count(s) == n
	})

	ns.IP("addr", "flush", "dev", "d0")
	waitFor(t, ch, "no address left", func(s Snapshot) bool {
		return count(s) == 0
	})

	// With a receive buffer of the kernel's minimum (SOCK_MIN_RCVBUF, a
	// few messages) a burst of 400 changes overruns it every time; a
	// run without a resync would not have tested it.
	if !strings.Contains(logs.String(), "resyncing") {
		t.Errorf("no resync logged; logs:\n%s", logs.String())
	}
}
