package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of a Batcher.
const (
	// DefaultQueue is how many events may wait to be written.
	DefaultQueue = 8192
	// DefaultBatch is the most events one transaction appends.
	DefaultBatch = 1024
	// DefaultLinger is how long the writer lets events gather after the
	// first one arrives. A transaction costs about as much as a dozen
	// rows, so at a few thousand requests a second a longer linger
	// saves more CPU than it delays the rows.
	DefaultLinger = 10 * time.Millisecond
)

// flushTimeout bounds each write of the Batcher's background writer.
const flushTimeout = busyTimeout + busyTimeout/2

// Batcher is a Sink for long-running front ends: Record queues the event
// and returns, and one background writer appends whatever has queued up
// in a single transaction (group commit), so the cost of a commit is
// shared by every event waiting for it. The chain is the same as if each
// event had been recorded alone, in queue order.
//
// After the first event of a batch the writer waits Linger before it
// writes, without being woken by each Record, so even a steady trickle of
// events shares transactions; a row is in the database at most about
// Linger plus a commit after its Record returned, or at once on Flush.
// Events still queued when the process is killed are lost; a graceful
// stop must Close the Batcher.
//
// No event is dropped: when the queue is full, Record appends its event
// itself before returning (back-pressure on the caller), and after Close it
// always does. Flush waits until everything queued before it is written;
// Close drains the queue and stops the writer, and does not close the
// Store. A batch that fails is retried event by event (not when the write
// lock could not be had within the busy timeout: the batch is then lost at
// once), and the first error is reported by the next Flush or Close.
type Batcher struct {
	store    *Store
	queue    chan Event
	maxBatch int
	linger   time.Duration
	flushes  chan chan error
	stop     chan struct{}
	stopped  chan struct{}

	mu     sync.RWMutex // held for reading while queueing, for writing by Close
	closed bool

	errMu sync.Mutex
	err   error // first failure since the last Flush
}

var _ Sink = (*Batcher)(nil)

// BatcherOptions tune a Batcher; zero fields take the defaults.
type BatcherOptions struct {
	Queue  int           // DefaultQueue
	Batch  int           // DefaultBatch
	Linger time.Duration // DefaultLinger; negative: write at once
}

// NewBatcher starts a Batcher appending to s.
func NewBatcher(s *Store, o BatcherOptions) *Batcher {
	b := newBatcher(s, o)
	go b.run()
	return b
}

// newBatcher returns a Batcher whose writer is not started yet.
func newBatcher(s *Store, o BatcherOptions) *Batcher {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Linger == 0 {
		o.Linger = DefaultLinger
	}
	return &Batcher{
		store:    s,
		queue:    make(chan Event, o.Queue),
		maxBatch: o.Batch,
		linger:   o.Linger,
		flushes:  make(chan chan error),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
}

// Record validates e and queues it. An invalid event is refused at once.
// When the queue is full or the Batcher is closed, e is appended before
// Record returns (waiting for the database until ctx's deadline, or
// flushTimeout if it has none), and an error doing so is returned.
func (b *Batcher) Record(ctx context.Context, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	b.mu.RLock()
	if !b.closed {
		select {
		case b.queue <- e:
			b.mu.RUnlock()
			return nil
		default:
		}
	}
	b.mu.RUnlock()
	if _, ok := ctx.Deadline(); !ok {
		return b.appendTimed([]Event{e})
	}
	return b.store.appendEvents(ctx, []Event{e})
}

// Flush returns once every event queued before it is in the database, with
// the first error met by the writer since the last Flush. After Close,
// when nothing is queued, it returns nil at once.
func (b *Batcher) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case b.flushes <- reply:
	case <-b.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
}

// Close writes every queued event and stops the writer; later Records
// append synchronously. It returns the first error met since the last
// Flush. Calling Close again returns nil.
func (b *Batcher) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.stopped
	return b.takeErr()
}

// run is the background writer. Each round takes the first queued event,
// lets others gather for the linger time (not when the last round left a
// backlog) and appends up to maxBatch of them in one transaction. Only a
// Flush or Close writes everything queued at once.
func (b *Batcher) run() {
	defer close(b.stopped)
	batch := make([]Event, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	backlog := false
	for {
		var reply chan error
		stop := false
		select {
		case e := <-b.queue:
			batch = append(batch[:0], e)
			if b.linger > 0 && !backlog {
				reply, stop = b.wait(timer)
			}
			batch = b.fill(batch)
			backlog = len(batch) == b.maxBatch
			b.write(batch)
		case reply = <-b.flushes:
		case <-b.stop:
			stop = true // nothing is queued after closed is set
		}
		if reply != nil || stop {
			b.drain(batch)
		}
		if reply != nil {
			reply <- b.takeErr()
		}
		if stop {
			return
		}
	}
}

// wait lets events gather for the linger time, cut short by a Flush or a
// Close, which it returns.
func (b *Batcher) wait(timer *time.Timer) (reply chan error, stop bool) {
	timer.Reset(b.linger)
	defer timer.Stop()
	select {
	case <-timer.C:
	case reply = <-b.flushes:
	case <-b.stop:
		stop = true
	}
	return reply, stop
}

// fill adds to batch what is queued now, up to maxBatch events.
func (b *Batcher) fill(batch []Event) []Event {
	for len(batch) < b.maxBatch {
		select {
		case e := <-b.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// drain writes everything queued.
func (b *Batcher) drain(batch []Event) {
	for {
		batch = b.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		b.write(batch)
	}
}

// write appends batch in one transaction; if that fails, event by event,
// so one failure does not cost the others, unless the write lock could not
// be had: each event would wait for it again, and a batch would take a busy
// timeout per event. The events are then cleared, so the reused batch
// holds no references.
func (b *Batcher) write(batch []Event) {
	if err := b.appendTimed(batch); err != nil {
		if isBusy(err) || errors.Is(err, context.DeadlineExceeded) {
			b.setErr(err)
			clear(batch)
			return
		}
		for i := range batch {
			if err := b.appendTimed(batch[i : i+1]); err != nil {
				b.setErr(err)
			}
		}
	}
	clear(batch)
}

// appendTimed appends events, waiting at most flushTimeout for the
// database.
func (b *Batcher) appendTimed(events []Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	return b.store.appendEvents(ctx, events)
}

func (b *Batcher) setErr(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.errMu.Unlock()
}

func (b *Batcher) takeErr() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	err := b.err
	b.err = nil
	return err
}
