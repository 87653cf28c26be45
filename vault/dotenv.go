package vault

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/The-17/agentsecrets/vault/fsutil"
)

// writeProjectFiles rewrites the storage-mode files of the project.json
// found from the working directory when it names (ws, project). kind is
// the backend kind to open (the lock is held: see openBackend).
func (s *Store) writeProjectFiles(ws, project, kind string, ix *Index) error {
	path := FindProjectConfig(s.cwd, s.home)
	if path == "" {
		return nil
	}
	pc, err := LoadProjectConfig(path)
	if err != nil || pc.Workspace != ws || pc.Project != project {
		return nil
	}
	return s.writeFilesFor(pc, filepath.Dir(filepath.Dir(path)), kind, ix)
}

// exampleFileMode is the mode of .env.example: it holds key names only and
// is meant to be committed. .env (storage mode 2, values) is 0600.
const exampleFileMode os.FileMode = 0o644

// writeFilesFor writes dir/.env.example (names of every environment) and,
// in storage mode 2, dir/.env with the values of pc's environment. dir is
// the user's project directory, not the tool's: it is never created nor
// chmodded. A value .env cannot hold (see dotenvValue) is left out, with
// a comment line and a warning. A .env agentsecrets did not write is
// never replaced (see checkOwnFile): the write fails; a .env.example of the
// user's own is kept as it is and the key names are not written. Every value is read and
// every check made before the first file is written, so that a failure (a
// wrong passphrase) writes nothing. Temporary files of .env that a killed
// write left (plaintext values) are removed first, in either mode. It
// runs under the lock and opens the backend of kind without recording it.
func (s *Store) writeFilesFor(pc ProjectConfig, dir, kind string, ix *Index) error {
	if err := fsutil.RemoveStaleTemps(filepath.Join(dir, ".env")); err != nil {
		return err
	}
	p := ix.project(pc.Workspace, pc.Project)
	if p == nil {
		return nil
	}
	names := map[string]bool{}
	for _, env := range Environments {
		for k := range p.Environments[env] {
			names[k] = true
		}
	}
	var ex strings.Builder
	ex.WriteString(exampleHeader + strconv.Quote(pc.Project) + " (values live in the agentsecrets vault)\n")
	for _, k := range sortedKeys(names) {
		ex.WriteString(k + "=\n")
	}
	example, err := exampleWriter(filepath.Join(dir, ".env.example"), ex.String())
	if err != nil {
		return err
	}
	if pc.StorageMode != 2 {
		return example()
	}
	envPath := filepath.Join(dir, ".env")
	if err := checkOwnDotenv(envPath); err != nil {
		return err
	}
	b, err := s.openBackend(kind)
	if err != nil {
		return err
	}
	var env strings.Builder
	env.WriteString(dotenvHeader + strconv.Quote(pc.Project) + " (" + pc.Environment + "), written by agentsecrets storage mode 2\n")
	var left []string
	for _, k := range p.keys(pc.Environment) {
		v, err := b.Get(ref(Context{Workspace: pc.Workspace, Project: pc.Project}, pc.Environment, k))
		if err != nil {
			return err
		}
		q, why := dotenvValue(string(v))
		if why != "" {
			left = append(left, fmt.Sprintf("agentsecrets: WARNING: %s is not in %s: its value %s; agentsecrets env -- COMMAND passes it exactly\n", k, envPath, why))
			env.WriteString("# " + k + " is left out: its value " + why + "\n")
			continue
		}
		env.WriteString(k + "=" + q + "\n")
	}
	if err := example(); err != nil {
		return err
	}
	if err := fsutil.WriteUserFile(envPath, []byte(env.String()), fsutil.FileMode); err != nil {
		return err
	}
	fmt.Fprintf(s.warn, "agentsecrets: WARNING: storage mode 2 wrote PLAINTEXT secret values to %s\n"+
		"agentsecrets: WARNING: keep it out of version control; storage mode 1 keeps values in the vault only\n", envPath)
	for _, l := range left {
		fmt.Fprint(s.warn, l)
	}
	return nil
}

// dotenvHeader starts the first line of every .env agentsecrets writes,
// exampleHeader that of every .env.example.
const (
	dotenvHeader  = "# PLAINTEXT secrets of project "
	exampleHeader = "# Key names of project "
)

// IsPlaintextDotenv reports whether data is a .env storage mode 2 wrote
// (or a copy of one): plaintext secret values, which must not be sent as a
// request body (an echo of it would come back unredacted).
func IsPlaintextDotenv(data []byte) bool {
	return strings.HasPrefix(string(data[:min(len(data), len(dotenvHeader))]), dotenvHeader)
}

// checkOwnDotenv fails when path holds a .env agentsecrets did not write:
// its values may be the only copy the user has (see checkOwnFile).
func checkOwnDotenv(path string) error {
	return checkOwnFile(path, dotenvHeader, "storage mode 2 would replace it",
		"move it away (storage mode 2 keeps .env in step with the vault), or use storage mode 1")
}

// exampleWriter returns the write of content to the .env.example at path,
// or a write that does nothing when path holds a file agentsecrets did not
// write (one kept in the project's repository by hand, see checkOwnFile):
// that file is the user's and stays as it is.
func exampleWriter(path, content string) (func() error, error) {
	err := checkOwnFile(path, exampleHeader, "", "")
	if errors.Is(err, ErrExists) {
		return func() error { return nil }, nil
	}
	if err != nil {
		return nil, err
	}
	return func() error { return fsutil.WriteUserFile(path, []byte(content), exampleFileMode) }, nil
}

// checkOwnFile fails with ErrExists, naming path and why it is kept, when
// path holds a file agentsecrets did not write: one that does not start
// with header. A missing or empty file is fine. Nothing of the file is
// quoted in the error.
func checkOwnFile(path, header, why, hint string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vault: read %q: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(header))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("vault: read %q: %w", path, err)
	case string(head[:n]) == header:
		return nil
	}
	return newError(ErrExists, hint, "%q was not written by agentsecrets: %s", path, why)
}

// dotenvSafe are the bytes a value may hold to be written bare: each is
// literal unquoted in a POSIX shell (no ~, no *, no quote, no $), to
// godotenv and to python-dotenv.
const dotenvSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:@%+,"

// dotenvValue returns v as written after "KEY=" in .env, in the first of
// three forms that fits. Each is read back byte for byte both by godotenv
// (v1.5.1, its latest release, and v1.6.0-pre.4) and by a POSIX shell
// sourcing the file (set -a; . ./.env; dash and bash), and a shell runs
// nothing from it:
//
//   - bare, when every byte is in dotenvSafe;
//   - 'v', single-quoted, when v holds no ' (both take everything between
//     single quotes literally, newlines included);
//   - "v", double-quoted with only \ " $ and ` escaped by a backslash, the
//     four escapes both readers undo alike, when v does not end in "
//     (godotenv trims the quote of a trailing \": joho/godotenv#226).
//     Newline, CR and tab stay raw: \n and \r are line ends to godotenv
//     but two bytes to a shell.
//
// A value no form fits is left out and why says why, without the value:
// a NUL byte (no shell variable holds one), a CR LF (godotenv turns every
// CR LF of the file into LF), a trailing backslash (godotenv v1.5.1 takes
// the closing quote after it for an escaped one: joho/godotenv#225), or a
// ' with a trailing ".
//
// python-dotenv (1.2) reads a value of valid UTF-8 holding no CR and no
// ${ the same too, unless it is single-quoted and holds \\ (python-dotenv
// undoes it) or double-quoted and holds $ or ` (it keeps the backslash).
func dotenvValue(v string) (q, why string) {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return "", "holds a NUL byte, which no shell variable can hold"
	case strings.Contains(v, "\r\n"):
		return "", "holds a CR LF, which godotenv reads as LF"
	case strings.HasSuffix(v, `\`):
		return "", "ends in a backslash, which godotenv reads as escaping the closing quote"
	case v != "" && strings.Trim(v, dotenvSafe) == "":
		return v, ""
	case !strings.Contains(v, "'"):
		return "'" + v + "'", ""
	case !strings.HasSuffix(v, `"`):
		return `"` + dotenvEscaper.Replace(v) + `"`, ""
	}
	return "", "holds a single quote and ends in a double quote, which godotenv reads back in neither quoted form"
}

// dotenvEscaper escapes the bytes special inside double quotes to both a
// POSIX shell and godotenv.
var dotenvEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
