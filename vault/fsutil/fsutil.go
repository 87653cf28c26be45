// Package fsutil holds the file-system primitives every store of the vault
// uses: private directories, atomic writes and a cross-process lock.
//
// # Durability
//
// WriteFileAtomic writes to a temporary file in the same directory, syncs it,
// renames it over the target and syncs the directory, so a reader sees either
// the old content or the new one, never a torn file, even if the writer is
// killed half way. A write that fails removes its temporary file; one
// killed leaves it (".NAME.tmp-" and digits, mode 0600 or the file's), and
// RemoveStaleTemps, called by the next writer under the same lock, removes
// it.
//
// # Locking
//
// Lock takes an exclusive advisory lock (flock) on a lock file. Every
// read-modify-write of a shared file happens under it, so concurrent
// processes never lose each other's changes.
//
// # Permissions
//
// The tool's own directories (the agentsecrets home, a project's
// .agentsecrets) are created 0700 and its own files 0600; existing ones are
// tightened. A directory the tool does not own (a project directory, the
// user's home) is never created, chmodded or otherwise changed except for the
// files written into it with WriteUserFile, whose mode the caller chooses.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DirMode and FileMode are the only permissions the vault creates.
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// EnsureDir creates dir (and parents) with mode 0700 and tightens it if it
// already exists with looser permissions. Use it only for the tool's own
// directories: it changes the mode of an existing dir.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("fsutil: create %q: %w", dir, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("fsutil: stat %q: %w", dir, err)
	}
	if info.Mode().Perm() != DirMode {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("fsutil: chmod %q: %w", dir, err)
		}
	}
	return nil
}

// WriteFileAtomic replaces path, one of the tool's own files, with data
// (mode 0600) so that a crash at any point leaves either the previous content
// or the new one. Its directory is one of the tool's own too: EnsureDir
// creates or tightens it. For a file in a directory the tool does not own,
// use WriteUserFile.
func WriteFileAtomic(path string, data []byte) error {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return err
	}
	return writeAtomic(path, data, FileMode)
}

// WriteUserFile replaces path with data, atomically like WriteFileAtomic, in
// a directory the tool does not own (a project directory): the directory
// must exist and its mode is left alone. The file gets exactly perm,
// whatever the umask or the mode of the file it replaces.
func WriteUserFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("fsutil: %q is not a directory", dir)
	}
	return writeAtomic(path, data, perm.Perm())
}

// tempPrefix starts the name of every temporary file a write of path
// makes; os.CreateTemp ends it in decimal digits.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// writeAtomic writes data to a temporary file (mode perm) in path's
// directory, syncs it, renames it over path and syncs the directory. The
// temporary file is removed on every error; only a killed process leaves
// one (see RemoveStaleTemps).
func writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("fsutil: temp file in %q: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("fsutil: chmod temp file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("fsutil: write %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsutil: sync %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("fsutil: close %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("fsutil: rename into %q: %w", path, err)
	}
	return syncDir(dir)
}

// RemoveStaleTemps removes the temporary files that writes of path
// killed before their rename left in its directory: regular files named
// tempPrefix(path) and digits, nothing else. Call it only under the lock
// that serialises the writers of path, as it would remove the file of a
// write in progress too.
func RemoveStaleTemps(path string) error {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fsutil: remove stale temporary file %q: %w", p, err)
		}
	}
	return nil
}

// isTempName reports whether name is prefix and one or more digits.
func isTempName(name, prefix string) bool {
	digits, ok := strings.CutPrefix(name, prefix)
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsutil: open dir %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !ignorableDirSyncError(err) {
		return fmt.Errorf("fsutil: sync dir %q: %w", dir, err)
	}
	return nil
}

// ReadFile reads path; a missing file gives (nil, os.ErrNotExist-wrapping error).
func ReadFile(path string) ([]byte, error) {
	return os.ReadFile(path)
}

// Unlock releases a lock taken by Lock.
type Unlock func()

// Lock takes an exclusive lock on path (created 0600 if missing, tightened
// to 0600 if looser), blocking until it is free. Call the returned
// function to release it.
func Lock(path string) (Unlock, error) {
	if err := EnsureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("fsutil: open lock %q: %w", path, err)
	}
	if info, err := f.Stat(); err == nil && info.Mode().Perm() != FileMode {
		// A lock file left with a looser mode is tightened, like the
		// tool's other files.
		if err := f.Chmod(FileMode); err != nil {
			f.Close()
			return nil, fmt.Errorf("fsutil: chmod lock %q: %w", path, err)
		}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsutil: lock %q: %w", path, err)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}
