package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestWriteFileAtomicModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	path := filepath.Join(dir, "f.json")
	if err := WriteFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "two" {
		t.Fatalf("content = %q, %v", got, err)
	}
	for p, want := range map[string]os.FileMode{dir: DirMode, path: FileMode} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", p, info.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestEnsureDirTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(dir)
	if info.Mode().Perm() != DirMode {
		t.Fatalf("mode = %v", info.Mode().Perm())
	}
}

func TestLockSerialisesReadModifyWrite(t *testing.T) {
	dir := t.TempDir()
	counter := filepath.Join(dir, "n")
	lock := filepath.Join(dir, ".lock")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				unlock, err := Lock(lock)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := os.ReadFile(counter)
				n, _ := strconv.Atoi(string(b))
				if err := WriteFileAtomic(counter, []byte(strconv.Itoa(n+1))); err != nil {
					t.Error(err)
				}
				unlock()
			}
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(counter)
	if string(b) != "200" {
		t.Fatalf("counter = %s, want 200 (lost updates)", b)
	}
}

// WriteUserFile writes into a directory the tool does not own: the
// directory keeps its mode (WriteFileAtomic used to chmod it 0700), the file
// gets exactly the mode asked for, and a missing directory is not created.
func TestWriteUserFileLeavesDirectory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dirMode  os.FileMode
		existing os.FileMode // mode of a file already at the path; 0: none
		perm     os.FileMode
	}{
		{"public project dir, names file", 0o755, 0, 0o644},
		{"group project dir, values file", 0o750, 0, 0o600},
		{"looser existing file is narrowed", 0o755, 0o666, 0o644},
		{"tighter existing file gets the mode asked for", 0o775, 0o600, 0o644},
		{"execute-only dir", 0o711, 0o644, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "project")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "f")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			if err := WriteUserFile(path, []byte("new"), tc.perm); err != nil {
				t.Fatal(err)
			}
			if info, _ := os.Stat(dir); info.Mode().Perm() != tc.dirMode {
				t.Errorf("directory mode = %v, want %v (unchanged)", info.Mode().Perm(), tc.dirMode)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != tc.perm {
				t.Errorf("file mode = %v, want %v", info.Mode().Perm(), tc.perm)
			}
			if got, _ := os.ReadFile(path); string(got) != "new" {
				t.Errorf("content = %q", got)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "missing")
	if err := WriteUserFile(filepath.Join(missing, "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("WriteUserFile into a missing directory succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("WriteUserFile created the directory: %v", err)
	}
}

// TestLockTightensTheLockFile: a lock file already there with a looser
// mode (left by another tool, restored from a backup) is narrowed to 0600
// like every file the vault keeps; a new one is created 0600 whatever the
// umask.
func TestLockTightensTheLockFile(t *testing.T) {
	for _, existing := range []os.FileMode{0, 0o644, 0o666, 0o640, 0o600} {
		t.Run(existing.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "home", ".lock")
			if existing != 0 {
				must(t, os.Mkdir(filepath.Dir(path), DirMode))
				must(t, os.WriteFile(path, nil, 0o600))
				must(t, os.Chmod(path, existing))
			}
			unlock, err := Lock(path)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			info, err := os.Stat(path)
			must(t, err)
			if info.Mode().Perm() != FileMode {
				t.Fatalf("lock file mode = %v, want %v", info.Mode().Perm(), FileMode)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
