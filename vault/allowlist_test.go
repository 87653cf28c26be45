package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// changeLog collects what a Store's AllowlistChanged recorder is given.
type changeLog struct {
	mu      sync.Mutex
	changes []AllowlistChange
	fail    error
}

func (l *changeLog) record(c AllowlistChange) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
	return l.fail
}

// openRecorded opens another Store on s's home and directory, with a
// recorder.
func openRecorded(t *testing.T, s *Store, l *changeLog) *Store {
	t.Helper()
	r, err := Open(Options{Home: s.home, Cwd: s.cwd, Backend: keychain.NewMemory(),
		Getenv: func(string) string { return "" }, AllowlistChanged: l.record})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAllowlistChangesAreRecorded(t *testing.T) {
	base, _ := newTestStore(t)
	l := &changeLog{}
	s := openRecorded(t, base, l)
	added, err := s.AllowlistAdd([]string{"API.stripe.com", "*.example.com", "api.stripe.com"})
	if err != nil || !slices.Equal(added, []string{"api.stripe.com", "*.example.com"}) {
		t.Fatalf("add = %v, %v", added, err)
	}
	if _, err := s.AllowlistAdd([]string{"api.stripe.com"}); err != nil { // already there: no change
		t.Fatal(err)
	}
	if _, err := s.AllowlistRemove([]string{"api.github.com"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove absent: %v", err)
	}
	if _, err := s.AllowlistAdd([]string{"https://x.example/"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("add invalid: %v", err)
	}
	removed, err := s.AllowlistRemove([]string{"*.example.com"})
	if err != nil || !slices.Equal(removed, []string{"*.example.com"}) {
		t.Fatalf("remove = %v, %v", removed, err)
	}
	want := []AllowlistChange{
		{Workspace: DefaultWorkspace, Domains: []string{"api.stripe.com", "*.example.com"},
			Before: []string{}, After: []string{"*.example.com", "api.stripe.com"}},
		{Workspace: DefaultWorkspace, Remove: true, Domains: []string{"*.example.com"},
			Before: []string{"*.example.com", "api.stripe.com"}, After: []string{"api.stripe.com"}},
	}
	if got := fmt.Sprintf("%+v", l.changes); got != fmt.Sprintf("%+v", want) {
		t.Errorf("recorded %s\nwant     %+v", got, want)
	}
}

// TestAllowlistRefusesPublicSuffixWildcards: a wildcard over a top-level
// domain or another public suffix (*.com, *.co.uk, *.github.io) would allow
// every host anyone registers under it; adding one is refused and changes
// nothing, while one stored before can be removed.
func TestAllowlistRefusesPublicSuffixWildcards(t *testing.T) {
	s, _ := newTestStore(t)
	for _, d := range []string{"*.com", "*.COM.", "*.localhost", "*.1", "*.co.uk", "*.github.io"} {
		_, err := s.AllowlistAdd([]string{"api.stripe.com", d})
		var ve *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "*.example.com") {
			t.Errorf("AllowlistAdd(%q) = %v, want an ErrInvalid error with a hint", d, err)
		}
	}
	if list, err := s.Allowlist(); err != nil || len(list) != 0 {
		t.Fatalf("refused adds changed the allowlist: %v, %v", list, err)
	}
	for _, d := range []string{"*.example.com", "*.stripe.co.uk", "*.amazonaws.com", "*.co.example", "*.xn--bcher-kva.de", "com", "localhost"} {
		if _, err := s.AllowlistAdd([]string{d}); err != nil {
			t.Errorf("AllowlistAdd(%q) = %v", d, err)
		}
	}
	// An entry stored before the rule.
	ws, err := s.Workspace()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.update("", "", func(_ *Config, ix *Index) error {
		w := ix.workspace(ws, true)
		w.Allowlist = append(w.Allowlist, "*.com")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.AllowlistRemove([]string{"*.com"}); err != nil || !slices.Equal(removed, []string{"*.com"}) {
		t.Errorf("AllowlistRemove of a stored *.com = %v, %v", removed, err)
	}
}

// TestAllowlistRecorderFailureKeepsTheChange: a recorder's error is
// returned as ErrNotRecorded with the domains changed; the change stays.
func TestAllowlistRecorderFailureKeepsTheChange(t *testing.T) {
	base, _ := newTestStore(t)
	boom := errors.New("audit: disk full")
	s := openRecorded(t, base, &changeLog{fail: boom})
	added, err := s.AllowlistAdd([]string{"api.stripe.com"})
	if !errors.Is(err, ErrNotRecorded) || !errors.Is(err, boom) || !slices.Equal(added, []string{"api.stripe.com"}) {
		t.Fatalf("add = %v, %v; want the domain and ErrNotRecorded", added, err)
	}
	if list, _ := base.Allowlist(); !slices.Equal(list, []string{"api.stripe.com"}) {
		t.Errorf("allowlist after an unrecorded add = %v", list)
	}
	removed, err := s.AllowlistRemove([]string{"api.stripe.com"})
	if !errors.Is(err, ErrNotRecorded) || !slices.Equal(removed, []string{"api.stripe.com"}) {
		t.Fatalf("remove = %v, %v; want the domain and ErrNotRecorded", removed, err)
	}
	if list, _ := base.Allowlist(); len(list) != 0 {
		t.Errorf("allowlist after an unrecorded remove = %v", list)
	}
}

// TestAllowlistRecordedUnderTheLock: Stores changing the list at once
// report their changes in the order they were made, each starting from
// the list the one before left, and the index is written before the
// recorder runs.
func TestAllowlistRecordedUnderTheLock(t *testing.T) {
	base, _ := newTestStore(t)
	l := &changeLog{}
	var wg sync.WaitGroup
	var onDisk sync.Map
	for i := range 8 {
		s := openRecorded(t, base, l)
		s.opts.AllowlistChanged = func(c AllowlistChange) error {
			data, err := os.ReadFile(filepath.Join(s.home, IndexFile))
			onDisk.Store(i, err == nil && slices.ContainsFunc(c.Domains, func(d string) bool {
				return slices.Contains(splitJSONStrings(data), d)
			}))
			return l.record(c)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AllowlistAdd([]string{fmt.Sprintf("d%d.example.com", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(l.changes) != 8 {
		t.Fatalf("%d changes recorded, want 8", len(l.changes))
	}
	var prev []string
	for i, c := range l.changes {
		if !slices.Equal(c.Before, prev) && !(len(c.Before) == 0 && prev == nil) {
			t.Errorf("change %d starts from %v, the one before left %v", i, c.Before, prev)
		}
		prev = c.After
	}
	onDisk.Range(func(k, v any) bool {
		if v != true {
			t.Errorf("store %v: the recorder ran before the index held the change", k)
		}
		return true
	})
}

// splitJSONStrings returns every JSON string literal in data, roughly.
func splitJSONStrings(data []byte) []string {
	var out []string
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(data) && data[j] != '"' {
			j++
		}
		out = append(out, string(data[i+1:min(j, len(data))]))
		i = j
	}
	return out
}
