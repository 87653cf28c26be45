package install

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// maxConfig bounds the config files read.
const maxConfig = 8 << 20

// ErrOtherUser marks a file root would take from the user it belongs to.
var ErrOtherUser = errors.New("run agentsecrets mcp install as that user, not as root")

// Plan is what installing into one client's file will do.
type Plan struct {
	Client string
	// Path is the file written (a symbolic link resolved).
	Path string
	// Exists reports whether the file is there already.
	Exists bool
	// Changed is false when the file already runs the server as asked.
	Changed bool
	// Content is the merged file; nil when nothing changes.
	Content []byte

	original []byte
	mode     fs.FileMode
}

// Prepare reads the client's file at path and merges srv in under name.
// It writes nothing.
func Prepare(client, path, name string, srv Server) (*Plan, error) {
	p := &Plan{Client: client, Path: path, mode: 0o600}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		p.Path = target
	} else if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("install: %s: a symbolic link to a missing file", path)
	}
	if err := checkOwner(p.Path); err != nil {
		return nil, err
	}
	data, err := readConfig(p.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("install: %s: %v", p.Path, err)
	default:
		info, err := os.Stat(p.Path)
		if err != nil {
			return nil, fmt.Errorf("install: %s: %v", p.Path, err)
		}
		// Readable by the owner only: an entry's env may hold a passphrase.
		p.Exists, p.original, p.mode = true, data, info.Mode().Perm()&0o700
	}
	content, changed, err := Merge(data, name, srv)
	if err != nil {
		return nil, fmt.Errorf("install: %s: %w", p.Path, err)
	}
	p.Changed, p.Content = changed, content
	return p, nil
}

func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfig {
		return nil, fmt.Errorf("larger than %d MiB", maxConfig>>20)
	}
	return data, nil
}

// Result is the file as it will be after Apply: the merged content, or the
// current content when nothing changes.
func (p *Plan) Result() []byte {
	if p.Changed {
		return p.Content
	}
	return p.original
}

// Apply writes the plan: a backup of the existing file first, then the
// merged file in its place. It returns the backup's path ("" when the file
// did not exist). An unchanged plan writes nothing.
func (p *Plan) Apply(now time.Time) (backup string, err error) {
	if !p.Changed {
		return "", nil
	}
	dir := filepath.Dir(p.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("install: %v", err)
	}
	if p.Exists {
		if backup, err = writeBackup(p.Path, p.original, now); err != nil {
			return "", err
		}
	}
	if err := replaceFile(p.Path, p.Content, p.mode); err != nil {
		return backup, err
	}
	return backup, nil
}

// writeBackup copies data to <path>.bak-<UTC time>, never overwriting an
// earlier backup.
func writeBackup(path string, data []byte, now time.Time) (string, error) {
	base := path + ".bak-" + now.UTC().Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("install: backup: %v", err)
		}
		if err := writeAndClose(f, data); err != nil {
			os.Remove(name)
			return "", fmt.Errorf("install: backup: %v", err)
		}
		return name, nil
	}
	return "", fmt.Errorf("install: backup: too many backups of %s", path)
}

// replaceFile writes data to a temporary file next to path and renames it
// over path.
func replaceFile(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("install: %v", err)
	}
	tmp := f.Name()
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("install: %v", err)
	}
	if err := writeAndClose(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %s: %v", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %v", err)
	}
	return nil
}

func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
