package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
	"github.com/The-17/agentsecrets/vault/seal"
)

// cheapVault writes an empty vault.enc whose header asks for a cheap
// Argon2id, so that the many processes of the stress tests do not each
// spend a quarter of a second deriving the key (files keep the parameters
// of their header).
func cheapVault(t *testing.T, home string) {
	t.Helper()
	params := seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: seal.KeySize}
	salt, err := seal.NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	key, err := seal.DeriveKey([]byte(testPassphrase), salt, params)
	if err != nil {
		t.Fatal(err)
	}
	check, err := seal.Seal(key, []byte("agentsecrets vault passphrase check"), []byte("agentsecrets/vault-check/v1"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]any{
		"format": "agentsecrets-vault", "version": 1,
		"kdf":   map[string]any{"alg": "argon2id", "salt": salt, "params": params},
		"check": check, "seq": 0, "items": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, keychain.VaultFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sandboxStore opens the sandbox's vault through the Go API.
func sandboxStore(t *testing.T, sb *sandbox) *vault.Store {
	t.Helper()
	env := map[string]string{"AGENTSECRETS_HOME": sb.home, "AGENTSECRETS_BACKEND": keychain.KindFile, "AGENTSECRETS_PASSPHRASE": testPassphrase}
	s, err := vault.Open(vault.Options{Cwd: sb.project, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// vaultState is every value of the sandbox's active workspace by
// "project/env/KEY", read through the index and the backend.
type vaultState map[string]string

// checkVault checks that every key the index lists has a readable value in
// vault.enc, and returns the values. It also returns the drift between the
// two files: values whose fingerprint is not the one the index records, and
// values in vault.enc (but the fingerprint key) the index does not list.
// Drift is an error when strict; a writer killed between its write of
// vault.enc and its write of the index leaves some (the values are written
// first, and removed last, so that no listed key lacks its value).
func checkVault(t *testing.T, sb *sandbox, when string, strict bool) (vaultState, []string) {
	t.Helper()
	var index struct {
		Workspaces map[string]struct {
			Projects map[string]struct {
				Environments map[string]map[string]struct {
					Fingerprint string `json:"fingerprint"`
				} `json:"environments"`
			} `json:"projects"`
		} `json:"workspaces"`
	}
	data, err := os.ReadFile(filepath.Join(sb.home, vault.IndexFile))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatalf("%s: index.json is not valid JSON: %v", when, err)
	}
	b, err := keychain.Open(keychain.Options{Dir: sb.home, Kind: keychain.KindFile,
		Passphrase: func() ([]byte, error) { return []byte(testPassphrase), nil }})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	state := vaultState{}
	var drift []string
	listed := map[string]bool{}
	for ws, w := range index.Workspaces {
		fpKey, err := b.Get(keychain.Ref{Workspace: ws, Project: "_agentsecrets", Environment: "_", Key: "FINGERPRINT_KEY"})
		if err != nil {
			fpKey = nil // every fingerprint counts as drift
		}
		for p, proj := range w.Projects {
			for env, keys := range proj.Environments {
				for k, e := range keys {
					r := keychain.Ref{Workspace: ws, Project: p, Environment: env, Key: k}
					listed[r.Account()] = true
					v, err := b.Get(r)
					if err != nil {
						t.Errorf("%s: %s is listed but its value cannot be read: %v", when, r.Account(), err)
						continue
					}
					m := hmac.New(sha256.New, fpKey)
					m.Write(v)
					if fpKey == nil || hex.EncodeToString(m.Sum(nil)) != e.Fingerprint {
						drift = append(drift, r.Account()+" holds a value whose fingerprint is not the one the index records")
					}
					state[p+"/"+env+"/"+k] = string(v)
				}
			}
		}
	}
	var vf struct {
		Items map[string]json.RawMessage `json:"items"`
	}
	data, err = os.ReadFile(filepath.Join(sb.home, keychain.VaultFileName))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatalf("%s: vault.enc is not valid JSON: %v", when, err)
	}
	for account := range vf.Items {
		if !listed[account] && !strings.Contains(account, "/_agentsecrets/") {
			drift = append(drift, "vault.enc holds a value for "+account+", which the index does not list")
		}
	}
	if strict {
		for _, d := range drift {
			t.Errorf("%s: %s", when, d)
		}
	}
	return state, drift
}

// TestStressConcurrentCommands runs many writers of every kind at once, as
// separate processes (and, for the allowlist, which wants a terminal, as
// separate Stores in this process), on one home with the file backend.
// Every command that succeeded must be visible afterwards, and the index
// and vault.enc must agree.
func TestStressConcurrentCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	sb := newSandbox(t)
	cheapVault(t, sb.home)
	sb.mustRun("", "init")
	sb.mustRun("", "secrets", "set", "DEL_0=d0", "DEL_1=d1", "DEL_2=d2", "DEL_3=d3", "SHARED=s")
	s := sandboxStore(t, sb)
	stressMust(t, s.CreateProject("side", ""))
	ctx, err := s.Context()
	stressMust(t, err)
	side := ctx.WithProject("side")
	stressMust(t, s.Set(side, "SIDE_KEY", []byte("side-value")))

	const setters = 12
	type job struct {
		name  string
		cmd   *exec.Cmd
		out   bytes.Buffer
		check func(code int, out string)
	}
	var jobs []*job
	add := func(stdin string, args ...string) *job {
		j := &job{name: strings.Join(args, " "), cmd: sb.command(stdin, args...)}
		j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.out
		jobs = append(jobs, j)
		return j
	}
	for i := 0; i < setters; i++ {
		add(fmt.Sprintf("value-%d\n", i), "secrets", "set", fmt.Sprintf("KEY_%d", i))
	}
	for i := 0; i < 4; i++ {
		add("", "secrets", "delete", fmt.Sprintf("DEL_%d", i), "--yes")
	}
	copies := []*job{add("", "environment", "copy", "development", "staging", "--yes"),
		add("", "environment", "copy", "development", "production", "--yes")}
	renames := []*job{add("", "project", "update", "side", "--name", "side2"),
		add("", "project", "update", "side2", "--name", "side")}
	for i := 0; i < 4; i++ {
		add("", "agent", "token", "issue", "bot")
	}

	domains := []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com"}
	var wg sync.WaitGroup
	allowErrs := make([]error, len(domains))
	for _, j := range jobs {
		if err := j.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := sandboxStore(t, sb)
			_, allowErrs[i] = st.AllowlistAdd([]string{d})
		}()
	}
	wg.Wait()
	ok := map[*job]bool{}
	for _, j := range jobs {
		err := j.cmd.Wait()
		ok[j] = err == nil
		if err != nil && !strings.HasPrefix(j.name, "project update") {
			t.Errorf("%s: %v\n%s", j.name, err, j.out.String())
		}
	}
	for i, err := range allowErrs {
		if err != nil {
			t.Errorf("allowlist add %s: %v", domains[i], err)
		}
	}

	state, _ := checkVault(t, sb, "after the concurrent commands", true)
	for i := 0; i < setters; i++ {
		k := fmt.Sprintf("proj/development/KEY_%d", i)
		if want := fmt.Sprintf("value-%d", i); state[k] != want {
			t.Errorf("%s = %q, want %q", k, state[k], want)
		}
	}
	for i := 0; i < 4; i++ {
		if _, there := state[fmt.Sprintf("proj/development/DEL_%d", i)]; there {
			t.Errorf("DEL_%d survived its deletion", i)
		}
	}
	for _, j := range copies {
		env := j.cmd.Args[len(j.cmd.Args)-2]
		if state["proj/"+env+"/SHARED"] != "s" {
			t.Errorf("%s: SHARED missing from %s", j.name, env)
		}
	}
	sideName := "side"
	if ok[renames[0]] && !ok[renames[1]] {
		sideName = "side2"
	}
	if state[sideName+"/development/SIDE_KEY"] != "side-value" {
		t.Errorf("SIDE_KEY lost by the renames (project %s): %v", sideName, state)
	}
	toks, err := sandboxStore(t, sb).Tokens("bot")
	if err != nil || len(toks) != 4 {
		t.Errorf("%d tokens for bot, want 4 (%v)", len(toks), err)
	}
	allow, err := sandboxStore(t, sb).Allowlist()
	if err != nil || len(allow) != len(domains) {
		t.Errorf("allowlist = %v, want %v (%v)", allow, domains, err)
	}
}

// TestStressKilledWriters kills writers of several kinds with SIGKILL after
// a random few milliseconds, and checks after each kill that the vault is
// consistent (every listed key has its value, with the recorded
// fingerprint), that each value is the old or the new one, and that the
// next command is not blocked by what the killed one left.
func TestStressKilledWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	sb := newSandbox(t)
	cheapVault(t, sb.home)
	sb.mustRun("", "init")
	const bulk = 25
	pairs := func(prefix, tag string) []string {
		var args []string
		for i := 0; i < bulk; i++ {
			args = append(args, fmt.Sprintf("%s_%d=%s-%d", prefix, i, tag, i))
		}
		return args
	}
	sb.mustRun("", append([]string{"secrets", "set"}, pairs("KEY", "v0")...)...)
	rng := mrand.New(mrand.NewSource(time.Now().UnixNano()))
	deadline := time.Now().Add(12 * time.Second)
	killed, finished := 0, 0
	var drift []string
	for round := 0; round < 40 && time.Now().Before(deadline); round++ {
		before, _ := checkVault(t, sb, fmt.Sprintf("before round %d", round), false)
		if t.Failed() {
			return
		}
		tag := fmt.Sprintf("v%d", round+1)
		var args []string
		var newValue func(k string) (string, bool) // the value k has if the command completes
		switch op := round % 5; op {
		case 0, 1: // overwrite every key of development at once
			args = append([]string{"secrets", "set"}, pairs("KEY", tag)...)
			newValue = func(k string) (string, bool) {
				if rest, ok := strings.CutPrefix(k, "proj/development/KEY_"); ok {
					return tag + "-" + rest, true
				}
				v, ok := before[k]
				return v, ok
			}
		case 2: // copy development onto staging
			args = []string{"environment", "copy", "development", "staging", "--yes"}
			newValue = func(k string) (string, bool) {
				if rest, ok := strings.CutPrefix(k, "proj/staging/"); ok {
					v, ok := before["proj/development/"+rest]
					return v, ok
				}
				v, ok := before[k]
				return v, ok
			}
		case 3: // clean staging
			args = []string{"environment", "clean", "--env", "staging", "--yes"}
			newValue = func(k string) (string, bool) {
				if strings.HasPrefix(k, "proj/staging/") {
					return "", false
				}
				v, ok := before[k]
				return v, ok
			}
		case 4: // delete one key, set it back
			k := fmt.Sprintf("KEY_%d", rng.Intn(bulk))
			if _, there := before["proj/development/"+k]; !there {
				args = []string{"secrets", "set", k + "=" + tag}
				newValue = func(key string) (string, bool) {
					if key == "proj/development/"+k {
						return tag, true
					}
					v, ok := before[key]
					return v, ok
				}
			} else {
				args = []string{"secrets", "delete", k, "--yes"}
				newValue = func(key string) (string, bool) {
					if key == "proj/development/"+k {
						return "", false
					}
					v, ok := before[key]
					return v, ok
				}
			}
		}
		cmd := sb.command("", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rng.Intn(60)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		completed := err == nil
		if completed {
			finished++
		} else {
			killed++
		}
		when := fmt.Sprintf("round %d (%s, completed=%v)", round, args[0]+" "+args[1], completed)
		after, d := checkVault(t, sb, "after "+when, false)
		drift = d
		// Each value is the old one or the new one; a completed command
		// leaves only new ones.
		keys := map[string]bool{}
		for k := range before {
			keys[k] = true
		}
		for k := range after {
			keys[k] = true
		}
		for k := range keys {
			oldV, oldOK := before[k]
			newV, newOK := newValue(k)
			gotV, gotOK := after[k]
			isNew := gotOK == newOK && gotV == newV
			isOld := gotOK == oldOK && gotV == oldV
			if completed && !isNew {
				t.Errorf("%s: %s = %q (%v), want the new state %q (%v)", when, k, gotV, gotOK, newV, newOK)
			} else if !isNew && !isOld {
				t.Errorf("%s: %s = %q (%v), neither the old %q (%v) nor the new %q (%v)", when, k, gotV, gotOK, oldV, oldOK, newV, newOK)
			}
		}
		// Nothing the killed process left blocks the next command.
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		next := exec.CommandContext(c, sb.bin, "secrets", "set", "PROBE="+tag)
		next.Dir, next.Env, next.SysProcAttr = sb.project, sb.env, detachedAttr()
		if out, err := next.CombinedOutput(); err != nil {
			cancel()
			t.Fatalf("after %s the next command failed: %v\n%s", when, err, out)
		}
		cancel()
		if t.Failed() {
			return
		}
	}
	t.Logf("%d writers killed, %d finished first; drift left by the kills: %d values unlisted or with a stale fingerprint", killed, finished, len(drift))
	entries, _ := os.ReadDir(sb.home)
	var leftovers []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			leftovers = append(leftovers, e.Name())
		}
	}
	t.Logf("temp files left by killed writers: %d", len(leftovers))
}

func stressMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
