package cli

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// testPassphrase unlocks the file backend in scripts and binary tests.
const testPassphrase = "correct horse battery staple"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"agentsecrets": func() { os.Exit(Main()) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets
// AGENTSECRETS_HOME=$WORK/home, the file backend with a passphrase, an
// empty project directory $WORK/app and no terminal.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("AGENTSECRETS_HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("AGENTSECRETS_BACKEND", "file")
			e.Setenv("AGENTSECRETS_PASSPHRASE", testPassphrase)
			e.Setenv("AGENTSECRETS_NO_TTY", "1")
			for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"} {
				if v := os.Getenv(k); v != "" {
					e.Setenv(k, v)
				}
			}
			if err := copyFixtures(e.WorkDir); err != nil {
				return err
			}
			return os.MkdirAll(filepath.Join(e.WorkDir, "app"), 0o700)
		},
		Condition: func(cond string) (bool, error) {
			if cond == "secretservice" {
				return os.Getenv("AGENTSECRETS_TEST_SECRET_SERVICE") == "1", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"code":      cmdCode,
			"snapshot":  cmdSnapshot,
			"unchanged": cmdUnchanged,
			"privmodes": cmdPrivModes,
		},
	})
}

// scriptFixtures are binary files scripts need (txtar holds only text),
// copied into $WORK under the given names.
var scriptFixtures = map[string]string{
	"bad-import.wasm": "../../testdata/guests/badimport.wasm",
	"good.wasm":       "../../wasm/builtin/bearer.wasm",
	"other.wasm":      "../../wasm/builtin/header.wasm",
}

func copyFixtures(work string) error {
	for name, src := range scriptFixtures {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// cmdCode: code N program [args...] runs the program and wants exit code N.
func cmdCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: code N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("code: bad exit code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("code: %v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

var snapshots sync.Map // "<script>/<name>" -> snapshot

type snapshot struct {
	dirs    []string
	listing string
}

// cmdSnapshot: snapshot NAME DIR... records every file (path, mode,
// content hash) under the dirs.
func cmdSnapshot(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: snapshot NAME DIR...")
	}
	var dirs []string
	for _, d := range args[1:] {
		dirs = append(dirs, ts.MkAbs(d))
	}
	snapshots.Store(fmt.Sprintf("%p/%s", ts, args[0]), snapshot{dirs, listTree(ts, dirs)})
}

// cmdUnchanged: unchanged NAME fails if anything under the snapshot's dirs
// differs from when it was taken.
func cmdUnchanged(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: unchanged NAME")
	}
	v, ok := snapshots.Load(fmt.Sprintf("%p/%s", ts, args[0]))
	if !ok {
		ts.Fatalf("no snapshot %q", args[0])
	}
	s := v.(snapshot)
	now := listTree(ts, s.dirs)
	if (now == s.listing) == neg {
		ts.Fatalf("files changed=%v (negated=%v)\nbefore:\n%s\nafter:\n%s", now != s.listing, neg, s.listing, now)
	}
}

func listTree(ts *testscript.TestScript, dirs []string) string {
	var b strings.Builder
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				fmt.Fprintf(&b, "%s missing\n", p)
				return nil
			}
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			sum := ""
			if d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum = fmt.Sprintf("%x", sha256.Sum256(data))
			}
			fmt.Fprintf(&b, "%s %v %s\n", p, info.Mode(), sum)
			return nil
		})
		ts.Check(err)
	}
	return b.String()
}

// cmdPrivModes: privmodes DIR... wants every directory 0700 and every file
// 0600 under the dirs.
func cmdPrivModes(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("privmodes does not support !")
	}
	for _, dir := range args {
		err := filepath.WalkDir(ts.MkAbs(dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				ts.Fatalf("%s has mode %v, want %v", p, info.Mode().Perm(), want)
			}
			return nil
		})
		ts.Check(err)
	}
}
