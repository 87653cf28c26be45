package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// TestConcurrentContextChangesKeepEach: project.json is read, changed and
// written under the lock. 20 goroutines, each with its own Store as
// separate processes would have, make changes that commute (a rename of
// the directory's project, project use, environment switch): whatever
// their order, project.json and the global config end naming project "b"
// in staging. The test holds the lock while they start, so that all of
// them wait for it at once: a change made from a project.json read before
// it got the lock would undo the changes written meanwhile (or fail
// naming a project renamed meanwhile).
func TestConcurrentContextChangesKeepEach(t *testing.T) {
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	must(t, os.Mkdir(dir, 0o700))
	backend := keychain.NewMemory()
	open := func() *Store {
		s, err := Open(Options{Home: home, Cwd: dir, Backend: backend, Getenv: func(string) string { return "" }})
		must(t, err)
		return s
	}
	s := open()
	_, err := s.Init(InitOptions{})
	must(t, err)
	must(t, s.CreateProject("b", ""))

	renamed := "c"
	changes := []func(s *Store) error{
		func(s *Store) error { return s.UpdateProject("app", ProjectUpdate{Name: &renamed}) },
	}
	for i := 0; i < 19; i++ {
		if i%2 == 0 {
			changes = append(changes, func(s *Store) error { return s.UseProject("b") })
		} else {
			changes = append(changes, func(s *Store) error { return s.SwitchEnvironment(Staging) })
		}
	}
	stores := make([]*Store, len(changes))
	for i := range stores {
		stores[i] = open()
	}
	unlock, err := fsutil.Lock(filepath.Join(home, LockFile))
	must(t, err)
	errs := make([]error, len(changes))
	var started, done sync.WaitGroup
	for i, change := range changes {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			errs[i] = change(stores[i])
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let them reach the lock
	unlock()
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("change %d: %v", i, err)
		}
	}

	pc, err := LoadProjectConfig(filepath.Join(dir, ProjectDirName, ProjectFile))
	must(t, err)
	cfg, err := s.Config()
	must(t, err)
	if pc.Project != "b" || pc.Environment != Staging {
		t.Errorf("project.json names %s/%s, want b/staging: a change was lost", pc.Project, pc.Environment)
	}
	if cfg.Project != "b" || cfg.Environment != Staging {
		t.Errorf("the global config names %s/%s, want b/staging: a change was lost", cfg.Project, cfg.Environment)
	}
	ps, err := s.Projects()
	must(t, err)
	if len(ps) != 2 || ps[0].Name != "b" || ps[1].Name != "c" {
		t.Errorf("projects = %+v, want b and c", ps)
	}
}

// TestConcurrentInitsOneWins: inits of one directory racing for the lock
// (each with its own project name) leave exactly one project.json, of
// the only init that succeeded; the others are ErrExists.
func TestConcurrentInitsOneWins(t *testing.T) {
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	must(t, os.Mkdir(dir, 0o700))
	backend := keychain.NewMemory()
	const n = 10
	stores := make([]*Store, n)
	for i := range stores {
		s, err := Open(Options{Home: home, Cwd: dir, Backend: backend, Getenv: func(string) string { return "" }})
		must(t, err)
		stores[i] = s
	}
	unlock, err := fsutil.Lock(filepath.Join(home, LockFile))
	must(t, err)
	errs := make([]error, n)
	var started, done sync.WaitGroup
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, errs[i] = stores[i].Init(InitOptions{Project: fmt.Sprintf("p%d", i)})
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let them reach the lock
	unlock()
	done.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("inits %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ErrExists):
			t.Errorf("init %d: %v, want ErrExists", i, err)
		}
	}
	pc, err := LoadProjectConfig(filepath.Join(dir, ProjectDirName, ProjectFile))
	must(t, err)
	if want := fmt.Sprintf("p%d", winner); pc.Project != want {
		t.Errorf("project.json names %q, want %q of the init that succeeded", pc.Project, want)
	}
}
