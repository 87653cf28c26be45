package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveStaleTemps: only the temporary files a writer of the path
// would make (".<name>.tmp-" and digits, regular files) are removed; the
// path itself, the temporary files of other paths, names that differ
// only a little, directories and symbolic links are left alone.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	must(t, os.WriteFile(outside, []byte("not ours"), 0o600))
	cases := []struct {
		name    string
		make    func(p string) error
		removed bool
	}{
		{"..env.tmp-1234567890", file, true},
		{"..env.tmp-9", file, true},
		{".env", file, false},
		{"..env.tmp-", file, false},
		{"..env.tmp-12ab", file, false},
		{"..env.tmp-*", file, false},
		{".env.tmp-123", file, false},
		{"..env.example.tmp-123", file, false},
		{"...env.tmp-123", file, false},
		{"..env.tmp-77", func(p string) error { return os.Mkdir(p, 0o700) }, false},
		{"..env.tmp-88", func(p string) error { return os.Symlink(outside, p) }, false},
	}
	for _, c := range cases {
		must(t, c.make(filepath.Join(dir, c.name)))
	}
	must(t, RemoveStaleTemps(filepath.Join(dir, ".env")))
	for _, c := range cases {
		_, err := os.Lstat(filepath.Join(dir, c.name))
		if gone := os.IsNotExist(err); gone != c.removed {
			t.Errorf("%s: removed = %v, want %v (%v)", c.name, gone, c.removed, err)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the target of a link was removed: %v", err)
	}
	if err := RemoveStaleTemps(filepath.Join(t.TempDir(), "missing", ".env")); err == nil {
		t.Error("RemoveStaleTemps in a missing directory: no error")
	}
}

func file(p string) error { return os.WriteFile(p, []byte("A_KEY=plaintext\n"), 0o600) }

// TestFailedWriteLeavesNoTemp: a write that fails after its temporary
// file exists (here the rename, over a directory) removes that file.
func TestFailedWriteLeavesNoTemp(t *testing.T) {
	for name, write := range map[string]func(path string) error{
		"atomic": func(path string) error { return WriteFileAtomic(path, []byte("A_KEY=plaintext\n")) },
		"user":   func(path string) error { return WriteUserFile(path, []byte("A_KEY=plaintext\n"), FileMode) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env")
			must(t, os.MkdirAll(filepath.Join(path, "sub"), 0o700))
			if err := write(path); err == nil {
				t.Fatal("the write over a directory succeeded")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "..env.tmp-*")); len(m) != 0 {
				t.Fatalf("temporary files left: %v", m)
			}
		})
	}
}
