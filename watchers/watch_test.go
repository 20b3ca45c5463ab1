package watchers

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestPublishLatest checks that publish never blocks and that the reader
// gets the newest snapshot.
func TestPublishLatest(t *testing.T) {
	ch := make(chan Snapshot, 1)
	for seq := range uint64(5) {
		publish(ch, Snapshot{Seq: seq + 1})
	}
	if got := (<-ch).Seq; got != 5 {
		t.Errorf("read snapshot %d, want 5", got)
	}
	select {
	case s := <-ch:
		t.Errorf("unexpected second snapshot %d", s.Seq)
	default:
	}
}

// TestPublishConcurrentReader publishes while a reader drains, under
// synctest, and checks that the reader ends with the last snapshot and
// never sees seq go back.
func TestPublishConcurrentReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan Snapshot, 1)
		done := make(chan uint64)
		go func() {
			var last uint64
			for s := range ch {
				if s.Seq <= last {
					t.Errorf("seq went from %d to %d", last, s.Seq)
				}
				last = s.Seq
				time.Sleep(time.Millisecond) // a slow reader
			}
			done <- last
		}()
		for seq := range uint64(100) {
			publish(ch, Snapshot{Seq: seq + 1})
			if seq%10 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		synctest.Wait()
		close(ch)
		if got := <-done; got != 100 {
			t.Errorf("reader ended with %d, want 100", got)
		}
	})
}

func TestNextBackoff(t *testing.T) {
	tests := []struct {
		name         string
		prev, lasted time.Duration
		want         time.Duration
	}{
		{"first", 0, 0, minBackoff},
		{"doubles", minBackoff, time.Second, 2 * minBackoff},
		{"capped", 20 * time.Second, time.Second, maxBackoff},
		{"reset after a long session", maxBackoff, 2 * time.Minute, minBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextBackoff(tt.prev, tt.lasted); got != tt.want {
				t.Errorf("nextBackoff(%v, %v) = %v, want %v", tt.prev,
					tt.lasted, got, tt.want)
			}
		})
	}
}
