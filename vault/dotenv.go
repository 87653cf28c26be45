package vault

import (
	"fmt"
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
// chmodded. It runs under the lock and opens the backend of kind without
// recording it.
func (s *Store) writeFilesFor(pc ProjectConfig, dir, kind string, ix *Index) error {
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
	ex.WriteString("# Key names of project " + strconv.Quote(pc.Project) + " (values live in the agentsecrets vault)\n")
	for _, k := range sortedKeys(names) {
		ex.WriteString(k + "=\n")
	}
	if err := fsutil.WriteUserFile(filepath.Join(dir, ".env.example"), []byte(ex.String()), exampleFileMode); err != nil {
		return err
	}
	if pc.StorageMode != 2 {
		return nil
	}
	b, err := s.openBackend(kind)
	if err != nil {
		return err
	}
	var env strings.Builder
	env.WriteString("# PLAINTEXT secrets of project " + strconv.Quote(pc.Project) + " (" + pc.Environment + "), written by agentsecrets storage mode 2\n")
	for _, k := range p.keys(pc.Environment) {
		v, err := b.Get(ref(Context{Workspace: pc.Workspace, Project: pc.Project}, pc.Environment, k))
		if err != nil {
			return err
		}
		env.WriteString(k + "=" + dotenvQuote(string(v)) + "\n")
	}
	envPath := filepath.Join(dir, ".env")
	if err := fsutil.WriteUserFile(envPath, []byte(env.String()), fsutil.FileMode); err != nil {
		return err
	}
	fmt.Fprintf(s.warn, "agentsecrets: WARNING: storage mode 2 wrote PLAINTEXT secret values to %s\n"+
		"agentsecrets: WARNING: keep it out of version control; storage mode 1 keeps values in the vault only\n", envPath)
	return nil
}

// dotenvQuote writes v bare when it is plain, else double-quoted with
// escapes.
func dotenvQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\r\n\"'`$#\\=") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, `$`, `\$`)
	return `"` + r.Replace(v) + `"`
}
