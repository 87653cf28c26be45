package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
)

// The files a running proxy keeps in the agentsecrets home, all 0600.
const (
	PIDFile   = "proxy.pid"   // the daemon's process id
	TokenFile = "proxy.token" // the session token of this run
	StateFile = "proxy.json"  // State: address, port, start time, served context
	LogFile   = "proxy.log"   // the daemon's stdout and stderr
	lockFile  = ".lock"       // the home's cross-process lock (vault.LockFile)
)

// State describes a running proxy.
type State struct {
	PID     int       `json:"pid"`
	Bind    string    `json:"bind"`
	Port    int       `json:"port"`
	Started time.Time `json:"started"`
	// The context the proxy serves, fixed at its start: its secrets,
	// allowlist and bindings are this workspace's, project's and
	// environment's.
	Workspace   string `json:"workspace,omitempty"`
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// Serves describes the served context, e.g. `project "app" (development)`.
func (s State) Serves() string {
	if s.Project == "" {
		return "an unrecorded context"
	}
	return fmt.Sprintf("project %q (%s)", s.Project, s.Environment)
}

// Addr is the address a local client reaches the proxy at: the bind
// address, or loopback when it listens on every interface.
func (s State) Addr() string {
	host := s.Bind
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = DefaultBind
	}
	return net.JoinHostPort(host, strconv.Itoa(s.Port))
}

// Files are the proxy's files in one directory (the agentsecrets home).
type Files struct{ Dir string }

// Path returns the path of one of the proxy's files.
func (f Files) Path(name string) string { return filepath.Join(f.Dir, name) }

// Lock takes the home's cross-process lock, so that checking for a running
// proxy and recording a new one happen as one step. Release it before
// anything else takes it.
func (f Files) Lock() (fsutil.Unlock, error) { return fsutil.Lock(f.Path(lockFile)) }

// Write records a started proxy: pid file, token file and state file.
func (f Files) Write(st State, token string) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("proxy: state: %v", err)
	}
	for _, w := range []struct {
		name string
		data []byte
	}{
		{TokenFile, []byte(token + "\n")},
		{StateFile, append(data, '\n')},
		{PIDFile, []byte(strconv.Itoa(st.PID) + "\n")},
	} {
		if err := fsutil.WriteFileAtomic(f.Path(w.name), w.data); err != nil {
			return fmt.Errorf("proxy: write %s: %v", w.name, err)
		}
	}
	return nil
}

// ErrNotRunning means no proxy is recorded in the home directory.
var ErrNotRunning = errors.New("proxy: not running")

// Read returns the recorded state, or ErrNotRunning when there is no pid
// file. It does not check that the process is alive (see Alive).
func (f Files) Read() (State, error) {
	pidData, err := os.ReadFile(f.Path(PIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, ErrNotRunning
	}
	if err != nil {
		return State{}, fmt.Errorf("proxy: read pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if err != nil || pid <= 0 {
		return State{}, fmt.Errorf("proxy: pid file %q is malformed", f.Path(PIDFile))
	}
	st := State{PID: pid}
	if data, err := os.ReadFile(f.Path(StateFile)); err == nil {
		_ = json.Unmarshal(data, &st)
		st.PID = pid
	}
	return st, nil
}

// Snapshot returns the recorded state and session token as one start
// wrote them, or ErrNotRunning when there is no pid file. A start writes
// the files one by one under the home's lock (Lock), and Snapshot reads
// them under it: read without it, half way through a start, the pid of
// an earlier proxy (dead, its pid perhaps another program's now) would
// come with the new address or token, or the old address with the new
// token. The token is "" when its file cannot be read. Do not call it
// while holding the lock; there, use Read and Token.
func (f Files) Snapshot() (State, string, error) {
	if _, err := os.Lstat(f.Path(PIDFile)); errors.Is(err, os.ErrNotExist) {
		return State{}, "", ErrNotRunning // no lock taken, no home created
	}
	unlock, err := f.Lock()
	if err != nil {
		return State{}, "", err
	}
	defer unlock()
	st, err := f.Read()
	if err != nil {
		return st, "", err
	}
	token, _ := f.Token()
	return st, token, nil
}

// Token reads the session token of the running proxy.
func (f Files) Token() (string, error) {
	data, err := os.ReadFile(f.Path(TokenFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNotRunning
	}
	if err != nil {
		return "", fmt.Errorf("proxy: read token file: %v", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// Remove deletes the pid, token and state files (not the log).
func (f Files) Remove() error {
	var errs []error
	for _, name := range []string{PIDFile, TokenFile, StateFile} {
		if err := os.Remove(f.Path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveIfOwner deletes the files only if the pid file still names pid, so
// a proxy that exits late does not remove the files of its successor. It
// takes the home's lock, under which a successor records itself: do not
// call it while holding the lock.
func (f Files) RemoveIfOwner(pid int) error {
	unlock, err := f.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, err := f.Read()
	if err != nil || st.PID != pid {
		return nil
	}
	return f.Remove()
}

// client talks to a local proxy; it never goes through an environment
// proxy.
var client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 5 * time.Second}

// Health asks the proxy at addr for /health and reports whether it
// answered {"status":"ok"}.
func Health(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+PathHealth, nil)
	if err != nil {
		return fmt.Errorf("proxy: health: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("proxy: health: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Status != "ok" {
		return fmt.Errorf("proxy: health: %s at %s is not an agentsecrets proxy", resp.Status, addr)
	}
	return nil
}

// Verify reports whether the proxy at addr is the one that holds token,
// without side effects: with the token, GET on the sync endpoint is
// refused as 405 (without it, 401). A process that merely answers
// {"status":"ok"} on the port, or another home's proxy, fails.
func Verify(ctx context.Context, addr, token string) error {
	resp, err := syncEndpoint(ctx, http.MethodGet, addr, token)
	if err != nil {
		return fmt.Errorf("proxy: verify: %v", err)
	}
	defer resp.Body.Close()
	var e Error
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e); err != nil ||
		resp.StatusCode != http.StatusMethodNotAllowed || e.Code != CodeMethodNotAllowed {
		return fmt.Errorf("proxy: verify: the server at %s is not the proxy recorded here", addr)
	}
	return nil
}

// syncEndpoint sends method to the sync endpoint of the proxy at addr with
// the session token.
func syncEndpoint(ctx context.Context, method, addr, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+PathSync, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(HeaderSessionToken, token)
	return client.Do(req)
}

// RequestSync asks the proxy at addr to re-read the vault (POST /sync).
func RequestSync(ctx context.Context, addr, token string) error {
	resp, err := syncEndpoint(ctx, http.MethodPost, addr, token)
	if err != nil {
		return fmt.Errorf("proxy: sync: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e Error
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		return fmt.Errorf("proxy: sync: %s: %s", resp.Status, e.Message)
	}
	return nil
}
