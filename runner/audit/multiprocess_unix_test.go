//go:build unix

package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A helper process is the test binary run with helperModeEnv set: it runs
// TestAuditHelperProcess alone, which does what the mode says to the
// database at helperDBEnv and exits.
//
// Modes:
//
//	store    appends, for helperForEnv, batches of 1 to 300 events through
//	         one Store (a 300-event batch is two segments in one
//	         transaction), printing "C <first seq> <n>" after each commit
//	oneshot  like store, one event at a time, opening and closing the Store
//	         for each (a one-shot command such as agentsecrets call)
//	batcher  records through a Batcher, printing "C 0 <n>" after each Flush
//	midtx    writes a few megabytes of segments and the chain head in a
//	         transaction, prints "READY" and waits, never committing
//	lock     takes the write lock, prints "READY" and waits
//
// Every event carries the helper's agent name and its sequence number
// (Reason), so what is in the log can be matched against what each process
// saw committed.
const (
	helperModeEnv  = "AGENTSECRETS_AUDIT_HELPER_MODE"
	helperDBEnv    = "AGENTSECRETS_AUDIT_HELPER_DB"
	helperAgentEnv = "AGENTSECRETS_AUDIT_HELPER_AGENT"
	helperForEnv   = "AGENTSECRETS_AUDIT_HELPER_FOR"
)

func TestAuditHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		t.Skip("helper process")
	}
	err := runHelper(mode, os.Getenv(helperDBEnv), os.Getenv(helperAgentEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helperEvent(agent string, seq int) Event {
	e := sampleEvent(seq)
	e.Time = time.Now()
	e.Agent = agent
	e.Reason = strconv.Itoa(seq)
	return e
}

func runHelper(mode, path, agent string) error {
	d, _ := time.ParseDuration(os.Getenv(helperForEnv))
	deadline := time.Now().Add(d)
	ctx := context.Background()
	// Unbuffered: a line is in the pipe once Write returns, and survives a
	// SIGKILL that follows.
	committed := func(first, n int) { fmt.Fprintf(os.Stdout, "C %d %d\n", first, n) }
	switch mode {
	case "oneshot":
		for seq := 0; time.Now().Before(deadline); seq++ {
			s, err := Open(path)
			if err != nil {
				return err
			}
			if err := s.Record(ctx, helperEvent(agent, seq)); err != nil {
				return err
			}
			committed(seq, 1)
			if err := s.Close(); err != nil {
				return err
			}
		}
		return nil
	case "lock":
		s, err := Open(path)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		fmt.Println("READY")
		time.Sleep(time.Hour)
		return nil
	}
	s, err := Open(path)
	if err != nil {
		return err
	}
	defer s.Close()
	switch mode {
	case "store":
		sizes := []int{1, 1, 1, 3, 20, 300}
		for seq := 0; time.Now().Before(deadline); {
			n := sizes[rand.IntN(len(sizes))]
			events := make([]Event, n)
			for i := range events {
				events[i], _ = normalize(helperEvent(agent, seq+i))
			}
			if err := s.appendEvents(ctx, events); err != nil {
				return err
			}
			committed(seq, n)
			seq += n
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		return nil
	case "batcher":
		b := NewBatcher(s, BatcherOptions{Queue: 64, Batch: 50, Linger: 2 * time.Millisecond})
		seq := 0
		for time.Now().Before(deadline) {
			for range 1 + rand.IntN(40) {
				if err := b.Record(ctx, helperEvent(agent, seq)); err != nil {
					return err
				}
				seq++
			}
			if err := b.Flush(ctx); err != nil {
				return err
			}
			committed(0, seq)
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		}
		return b.Close()
	case "midtx":
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var lastID int64
		var head string
		if err := tx.QueryRow(`SELECT last_id, hash FROM chain_head WHERE id = 1`).Scan(&lastID, &head); err != nil {
			return err
		}
		// Far more than SQLite's page cache holds, so uncommitted pages
		// spill into the WAL before the process dies.
		seq := 0
		events := make([]Event, maxSegment)
		for range 40 {
			for i := range events {
				e := helperEvent(agent, seq)
				e.URL += "?" + strings.Repeat("x", 400)
				events[i], _ = normalize(e)
				seq++
			}
			var text string
			text, head = s.scratch.encodeSegment(events, lastID, head)
			if _, err := tx.Exec(`INSERT INTO segments (first_id, last_id, events) VALUES (?, ?, ?)`,
				lastID+1, lastID+maxSegment, text); err != nil {
				return err
			}
			lastID += maxSegment
		}
		if _, err := tx.Exec(`UPDATE chain_head SET last_id = ?, hash = ? WHERE id = 1`, lastID, head); err != nil {
			return err
		}
		fmt.Println("READY")
		time.Sleep(time.Hour)
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// helper is a running helper process and what it reported.
type helper struct {
	agent string
	mode  string
	cmd   *exec.Cmd
	ready chan struct{} // closed on READY
	done  chan struct{} // closed when stdout is read to the end

	mu        sync.Mutex
	committed int // rows it saw committed (its seqs 0..committed-1)
	killed    bool
}

func startHelper(t *testing.T, path, mode, agent string, runFor time.Duration) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperDBEnv+"="+path,
		helperAgentEnv+"="+agent, helperForEnv+"="+runFor.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{agent: agent, mode: mode, cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { h.kill() })
	go h.read(t, out)
	return h
}

func (h *helper) read(t *testing.T, out io.Reader) {
	defer close(h.done)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if line == "READY" {
			close(h.ready)
			continue
		}
		var first, n int
		if _, err := fmt.Sscanf(line, "C %d %d", &first, &n); err != nil {
			t.Errorf("%s: unexpected output %q", h.agent, line)
			continue
		}
		h.mu.Lock()
		if first != 0 && first != h.committed {
			t.Errorf("%s: committed from %d after %d rows", h.agent, first, h.committed)
		}
		h.committed = max(h.committed, first+n)
		h.mu.Unlock()
	}
}

func (h *helper) kill() {
	h.mu.Lock()
	h.killed = true
	h.mu.Unlock()
	h.cmd.Process.Signal(syscall.SIGKILL)
}

// wait waits for the process and its output; a helper that was not killed
// must have exited cleanly.
func (h *helper) wait(t *testing.T) {
	t.Helper()
	<-h.done // before Wait, which closes the pipe
	err := h.cmd.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil && !h.killed {
		t.Errorf("%s (%s): %v", h.agent, h.mode, err)
	}
}

// TestMultiProcessKilledWriters has six processes append to one new
// database at once, as the proxy (a Batcher), one-shot commands (open,
// record, close) and batch writers do, while three of them are SIGKILLed at
// random moments and a seventh is killed in the middle of a multi-megabyte
// transaction, and the test process watches the log. Afterwards the chain
// verifies, ids are dense, each process's rows are there in order from its
// first up to at least the last it saw committed (all of them for a process
// that was not killed), nothing of the killed transaction is, the watcher
// saw every id exactly once in order, a later Open recovers and appends
// after the last row, and the files are 0600.
func TestMultiProcessKilledWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes for a few seconds")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	path := filepath.Join(t.TempDir(), "home", FileName)
	const runFor = 2 * time.Second
	start := time.Now()

	modes := []string{"batcher", "store", "store", "oneshot", "oneshot", "store"}
	helpers := make([]*helper, len(modes))
	for i, mode := range modes {
		helpers[i] = startHelper(t, path, mode, fmt.Sprintf("p%d-%s", i, mode), runFor)
	}

	s, err := Open(path) // racing the helpers' schema creation
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seenMu sync.Mutex
	var seen []int64
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- s.WatchEvery(ctx, Filter{}, 3*time.Millisecond, func(e Entry) {
			seenMu.Lock()
			seen = append(seen, e.ID)
			seenMu.Unlock()
		})
	}()

	// Three of the six die at random moments.
	var killers sync.WaitGroup
	for _, i := range rng.Perm(len(helpers))[:3] {
		at := 200*time.Millisecond + time.Duration(rng.Int64N(int64(runFor-400*time.Millisecond)))
		killers.Go(func() {
			time.Sleep(time.Until(start.Add(at)))
			helpers[i].kill()
		})
	}
	// One dies holding the write lock with a big uncommitted transaction.
	time.Sleep(runFor / 2)
	mid := startHelper(t, path, "midtx", "midtx", 0)
	select {
	case <-mid.ready:
	case <-time.After(15 * time.Second):
		t.Fatal("midtx helper never got to write")
	}
	if info, err := os.Stat(path + "-wal"); err == nil {
		t.Logf("WAL holds %d bytes when the transaction is killed", info.Size())
	}
	mid.kill()
	helpers = append(helpers, mid)
	killers.Wait()
	for _, h := range helpers {
		h.wait(t)
	}

	// A fresh opener after the kills: recovers, appends after the last row.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	last, err := s2.lastID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Record(context.Background(), helperEvent("after", 0)); err != nil {
		t.Fatal(err)
	}
	last++
	res, err := s2.Verify(context.Background())
	if err != nil || !res.OK || res.Rows != int(last) {
		t.Fatalf("verify = %+v, %v; want OK with %d rows", res, err, last)
	}

	// What is stored, per process.
	all, err := s2.Query(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]int{}
	for i, e := range all {
		if e.ID != int64(i+1) {
			t.Fatalf("row %d has id %d: ids not dense", i+1, e.ID)
		}
		seq, err := strconv.Atoi(e.Reason)
		if err != nil {
			t.Fatalf("row %d: reason %q", e.ID, e.Reason)
		}
		stored[e.Agent] = append(stored[e.Agent], seq)
	}
	for _, h := range helpers {
		got := stored[h.agent]
		for i, seq := range got {
			if seq != i {
				t.Errorf("%s: row %d of its rows is seq %d: lost, duplicated or reordered", h.agent, i, seq)
				break
			}
		}
		h.mu.Lock()
		committed, killed := h.committed, h.killed
		h.mu.Unlock()
		switch {
		case h.mode == "midtx" && len(got) != 0:
			t.Errorf("%d rows of the killed transaction are in the log", len(got))
		case len(got) < committed:
			t.Errorf("%s: %d rows stored, but it saw %d committed", h.agent, len(got), committed)
		case !killed && len(got) != committed:
			t.Errorf("%s exited cleanly with %d rows committed, %d stored", h.agent, committed, len(got))
		}
		t.Logf("%s: %d rows (killed %v)", h.agent, len(got), killed)
	}

	// The watcher shows every row exactly once, in id order.
	for {
		seenMu.Lock()
		n := len(seen)
		seenMu.Unlock()
		if n >= int(last) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-watchDone; err != nil {
		t.Fatalf("watch: %v", err)
	}
	seenMu.Lock()
	defer seenMu.Unlock()
	want := make([]int64, last)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("watch saw %d ids, want 1..%d each once in order (first difference at %d)",
			len(seen), last, firstDiff(seen, want))
	}

	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", filepath.Base(p), info.Mode().Perm())
		}
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWriteLockHeldByAnotherProcess: while another process holds the write
// lock, opening and reading work, a Record gives up with an error when its
// context ends and, without a deadline, after the busy timeout; a Batcher
// whose queued events cannot be written reports it from Close within about
// one busy timeout, not one per event.
func TestWriteLockHeldByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the busy timeout")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recordN(t, s, 3)
	locker := startHelper(t, path, "lock", "locker", 0)
	select {
	case <-locker.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("lock helper never took the lock")
	}

	other, err := Open(path)
	if err != nil {
		t.Fatalf("open while locked: %v", err)
	}
	defer other.Close()
	if res, err := other.Verify(context.Background()); err != nil || !res.OK || res.Rows != 3 {
		t.Fatalf("verify while locked = %+v, %v", res, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = other.Record(ctx, sampleEvent(9))
	if err == nil || time.Since(t0) > 2*time.Second {
		t.Fatalf("record with a 300ms deadline while locked: %v after %v", err, time.Since(t0))
	}
	t.Logf("record with a deadline: %v", err)

	// The Batcher's writer and a plain Record without a deadline, at once:
	// both end, after about one busy timeout (twice that bounds it on a
	// loaded machine), rather than wait for the lock for ever.
	b := newBatcher(other, BatcherOptions{})
	for i := range 5 {
		if err := b.Record(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	go b.run()
	var wg sync.WaitGroup
	limit := 2 * busyTimeout
	t0 = time.Now()
	wg.Go(func() {
		err := b.Close()
		if d := time.Since(t0); err == nil || d > limit {
			t.Errorf("batcher Close while locked: %v after %v, want an error within %v", err, d, limit)
		} else {
			t.Logf("batcher Close after %v: %v", d.Round(time.Millisecond), err)
		}
	})
	wg.Go(func() {
		err := s.Record(context.Background(), sampleEvent(8))
		if d := time.Since(t0); err == nil || d > limit || !strings.Contains(err.Error(), "locked") {
			t.Errorf("record while locked: %v after %v, want a lock error within %v", err, d, limit)
		} else {
			t.Logf("record after %v: %v", d.Round(time.Millisecond), err)
		}
	})
	wg.Wait()
	locker.kill()
	locker.wait(t)
	recordN(t, other, 1)
	verifyRows(t, other, 4)
}

// TestReadOnlyDatabase: a database the process may not write is refused by
// Open at once with an error naming the file.
func TestReadOnlyDatabase(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes read-only files")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recordN(t, s, 2)
	s.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	defer os.Chmod(path, 0o600)
	t0 := time.Now()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || time.Since(t0) > time.Second {
		t.Fatalf("open read-only: %v after %v, want an error naming the file", err, time.Since(t0))
	}
}
