package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

// count returns the number of rows in s.
func count(t *testing.T, s *Store) int {
	t.Helper()
	got, err := s.Query(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func verifyRows(t *testing.T, s *Store, want int) {
	t.Helper()
	res, err := s.Verify(context.Background())
	if err != nil || !res.OK || res.Rows != want {
		t.Fatalf("verify = %+v, %v; want OK with %d rows", res, err, want)
	}
}

// TestBatcherStoresEveryEventInAChain records from many goroutines at once
// through a small queue and batches of up to 20 rows (a 16-row statement
// and single ones), so both the queued path and the synchronous one run,
// next to a plain Store writing the same file; after Close every event is
// there exactly once, as recorded, and the chain verifies; with the
// default linger and with none.
func TestBatcherStoresEveryEventInAChain(t *testing.T) {
	for _, linger := range []time.Duration{0, -1} {
		t.Run(fmt.Sprint("linger ", linger), func(t *testing.T) { batcherStoresEveryEvent(t, linger) })
	}
}

func batcherStoresEveryEvent(t *testing.T, linger time.Duration) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := NewBatcher(s, BatcherOptions{Queue: 32, Batch: 20, Linger: linger})
	const goroutines, perGoroutine = 8, 40
	var wg sync.WaitGroup
	for g := range goroutines + 1 {
		wg.Go(func() {
			for i := range perGoroutine {
				e := sampleEvent(g*perGoroutine + i)
				var err error
				if g == goroutines {
					e.Agent = "direct"
					err = other.Record(context.Background(), e)
				} else {
					err = b.Record(context.Background(), e)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	total := (goroutines + 1) * perGoroutine
	verifyRows(t, s, total)
	entries, err := s.Query(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.URL] = true
		i, err := strconv.Atoi(e.URL[len("https://api.example.com/v1/items/"):])
		if err != nil {
			t.Fatalf("row %d: url %q", e.ID, e.URL)
		}
		want, _ := normalize(sampleEvent(i))
		if e.Agent == "direct" {
			want.Agent = "direct"
		}
		if !reflect.DeepEqual(e.Event, want) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", e.ID, e.Event, want)
		}
	}
	if len(seen) != total {
		t.Fatalf("%d distinct events stored, want %d", len(seen), total)
	}
}

// TestBatcherFullQueueWritesAtOnce uses a Batcher whose writer has not
// started: events fill the queue, and the next one is appended before
// Record returns rather than dropped.
func TestBatcherFullQueueWritesAtOnce(t *testing.T) {
	s := openTemp(t)
	b := newBatcher(s, BatcherOptions{Queue: 2})
	for i := range 2 {
		if err := b.Record(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s); n != 0 {
		t.Fatalf("%d rows while queued, want 0", n)
	}
	if err := b.Record(context.Background(), sampleEvent(2)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].URL != sampleEvent(2).URL {
		t.Fatalf("rows after the queue filled: %+v, want the third event alone", got)
	}
	go b.run()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	verifyRows(t, s, 3)
}

// TestBatcherFlushAndClose checks that Flush makes every event queued
// before it readable, that Close drains the queue, and that Records after
// Close are written at once.
func TestBatcherFlushAndClose(t *testing.T) {
	s := openTemp(t)
	b := NewBatcher(s, BatcherOptions{})
	ctx := context.Background()
	recordN(t, b, 30)
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 30 {
		t.Fatalf("%d rows after Flush, want 30", n)
	}
	recordN(t, b, 20)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 50 {
		t.Fatalf("%d rows after Close, want 50", n)
	}
	if err := b.Record(ctx, sampleEvent(99)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 51 {
		t.Fatalf("%d rows after a Record following Close, want 51", n)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	verifyRows(t, s, 51)
}

// TestBatcherRefusesInvalidEvent checks that validation happens in Record,
// where the caller sees it.
func TestBatcherRefusesInvalidEvent(t *testing.T) {
	s := openTemp(t)
	b := NewBatcher(s, BatcherOptions{})
	defer b.Close()
	e := sampleEvent(1)
	e.Decision = "maybe"
	if err := b.Record(context.Background(), e); err == nil {
		t.Fatal("an unknown decision was accepted")
	}
}

// TestBatcherReportsWriteFailure closes the database under the Batcher:
// the queued event cannot be written, and Flush says so.
func TestBatcherReportsWriteFailure(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(s, BatcherOptions{})
	defer b.Close()
	s.Close()
	if err := b.Record(context.Background(), sampleEvent(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(context.Background()); err == nil {
		t.Fatal("Flush reported no error for an event that could not be written")
	}
}
