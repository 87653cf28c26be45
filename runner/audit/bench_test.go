package audit

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkOpenRecordClose is what a one-shot command pays to audit its call.
func BenchmarkOpenRecordClose(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	e := fullEvent()
	for b.Loop() {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Record(context.Background(), e); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecord is the per-request cost in a long-running front end.
func BenchmarkRecord(b *testing.B) {
	s := openTemp(b)
	e := fullEvent()
	for b.Loop() {
		if err := s.Record(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	s := openTemp(b)
	e := fullEvent()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Record(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkQueryLast50(b *testing.B) {
	s := openTemp(b)
	recordN(b, s, 2000)
	for b.Loop() {
		if _, err := s.Query(context.Background(), Filter{Last: 50, Secret: "STRIPE_KEY"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify1000(b *testing.B) {
	s := openTemp(b)
	recordN(b, s, 1000)
	for b.Loop() {
		if res, err := s.Verify(context.Background()); err != nil || !res.OK {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkBatcherRecordParallel is BenchmarkRecordParallel through a
// Batcher: many events share one transaction. The final Flush is timed,
// so every event counted is in the database.
func BenchmarkBatcherRecordParallel(b *testing.B) {
	s := openTemp(b)
	bt := NewBatcher(s, BatcherOptions{})
	defer bt.Close()
	e := fullEvent()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bt.Record(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := bt.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBatcherRecordFlush is one event and its Flush: a Batcher's
// worst case, when events never wait together.
func BenchmarkBatcherRecordFlush(b *testing.B) {
	s := openTemp(b)
	bt := NewBatcher(s, BatcherOptions{})
	defer bt.Close()
	e := fullEvent()
	for b.Loop() {
		if err := bt.Record(context.Background(), e); err != nil {
			b.Fatal(err)
		}
		if err := bt.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSegment appends batches of 256 events, the proxy's
// segment size; ns/op is per event.
func BenchmarkAppendSegment(b *testing.B) {
	s := openTemp(b)
	events := make([]Event, maxSegment)
	for i := range events {
		events[i], _ = normalize(fullEvent())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(events) {
		if err := s.appendEvents(context.Background(), events[:min(len(events), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryBigLog queries a log of 100,000 rows written as the proxy
// writes them (segments of 256): the last 50 rows, and a filter that
// matches nothing, which reads every segment.
func BenchmarkQueryBigLog(b *testing.B) {
	s := openTemp(b)
	events := make([]Event, maxSegment)
	for i := range events {
		events[i], _ = normalize(sampleEvent(i))
	}
	for range 100_000 / maxSegment {
		if err := s.appendEvents(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
	for _, bench := range []struct {
		name string
		f    Filter
	}{
		{"last-50", Filter{Last: 50}},
		{"last-50-of-agent", Filter{Last: 50, Agent: "anonymous"}},
		{"no-match", Filter{Agent: "nobody"}},
		{"no-match-unfiltered-text", Filter{Since: time.Now()}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Query(context.Background(), bench.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if res, err := s.Verify(context.Background()); err != nil || !res.OK {
				b.Fatal(res, err)
			}
		}
	})
}

// BenchmarkPollManySegments is a poll for new rows (Watch's query) on a
// log of 100,000 one-row segments, as one-shot commands write them.
func BenchmarkPollManySegments(b *testing.B) {
	s := openTemp(b)
	const rows = 100_000
	appendOneRowSegments(b, s, rows)
	f := Filter{AfterID: rows - 10}
	for b.Loop() {
		got, err := s.Query(context.Background(), f)
		if err != nil || len(got) != 10 {
			b.Fatal(len(got), err)
		}
	}
}

// appendOneRowSegments appends n rows, a segment each, in one transaction.
func appendOneRowSegments(tb testing.TB, s *Store, n int) {
	tb.Helper()
	tx, err := s.db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	e, _ := normalize(sampleEvent(1))
	var sc appendScratch
	head := genesisHash
	for i := range n {
		var text string
		text, head = sc.encodeSegment([]Event{e}, int64(i), head)
		if _, err := tx.Exec(`INSERT INTO segments VALUES (?, ?, ?)`, i+1, i+1, text); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE chain_head SET last_id = ?, hash = ?`, n, head); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
