package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/runner/proxy"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/fsutil"
)

func init() { register(newProxyCmd) }

func newProxyCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run a local HTTP proxy that injects secrets into requests",
		Long: `The proxy is the call command as a local HTTP service: a client sends its
request to http://127.0.0.1:8765/proxy with X-AS-* headers naming the target
and the secrets to inject, and gets the upstream's answer back with every
echo of a secret redacted.

  POST http://127.0.0.1:8765/proxy
  X-AS-Session-Token: <contents of ~/.agentsecrets/proxy.token>
  X-AS-Target-URL: https://api.stripe.com/v1/balance
  X-AS-Inject-Bearer: STRIPE_KEY

Injections: X-AS-Inject-Bearer: KEY, X-AS-Inject-Basic: KEY,
X-AS-Inject-Header: Name=KEY, X-AS-Inject-Query: param=KEY,
X-AS-Inject-Body: path=KEY, X-AS-Inject-Form: field=KEY (repeatable,
comma-separated). The older forms X-AS-Inject-Query-<param>: KEY (and
-Header-, -Body-, -Form-) also work, but HTTP does not keep the case of
header names: their <param> is taken in lower case. X-AS-Method overrides the
method; X-AS-Policy: NAME with X-AS-Param: k=v runs a registered policy;
X-AS-Agent-ID names the caller in the audit log; X-AS-Agent-Token: TOKEN
proves it with a token from agentsecrets agent token issue (logged as
token:<id>; an unknown or revoked one gets 401 agent_token_invalid). Every
X-AS-* header is removed before the request leaves.

Every request but /health needs the session token (X-AS-Session-Token, or
Authorization: Bearer), a new one at each start, kept 0600 in proxy.token.
Errors are JSON: {"error": CODE, "message": ..., "hint": ...}.`,
		Example: `  agentsecrets proxy start
  agentsecrets proxy status --json
  agentsecrets proxy logs --last 20
  agentsecrets proxy sync
  agentsecrets proxy stop`,
	}
	cmd.AddCommand(newProxyStartCmd(f), newProxyStatusCmd(f), newProxyStopCmd(f),
		newProxySyncCmd(f), newProxyLogsCmd(f))
	return cmd
}

type proxyStartOptions struct {
	Port        int
	Bind        string
	AllowRemote bool
	Foreground  bool
	Timeout     time.Duration
}

func newProxyStartCmd(f *Factory) *cobra.Command {
	o := &proxyStartOptions{}
	cmd := &cobra.Command{
		Use:   "start [--port N] [--bind ADDR] [--timeout D] [--foreground]",
		Short: "Start the proxy in the background and wait until it is ready",
		Long: `Start the proxy. It listens on 127.0.0.1:8765 unless told otherwise, runs in
the background (its output goes to proxy.log in the agentsecrets home) and
this command returns once it answers on /health. A fresh session token is
written to proxy.token (0600) at each start.

The vault is read when the proxy starts; after a secret, binding or allowlist
change, or an agent token revoked, run agentsecrets proxy sync. With the encrypted-file backend the
proxy needs AGENTSECRETS_PASSPHRASE in its environment.`,
		Example: `  agentsecrets proxy start
  agentsecrets proxy start --port 9000
  agentsecrets proxy start --timeout 10m      # long streamed answers
  agentsecrets proxy start --foreground`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Foreground {
				return runProxyForeground(c.Context(), f, o)
			}
			return startProxyDaemon(c.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Port, "port", proxy.DefaultPort, "port to listen on")
	fl.StringVar(&o.Bind, "bind", proxy.DefaultBind, "address to listen on (loopback unless --allow-remote)")
	fl.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a non-loopback --bind (anyone who can reach it and has the token can use your secrets)")
	fl.BoolVar(&o.Foreground, "foreground", false, "run in this process until interrupted")
	fl.DurationVar(&o.Timeout, "timeout", runner.DefaultTimeout, "bound on each call, its streamed answer included (a request's X-AS-Timeout overrides it)")
	return cmd
}

// checkStartOptions validates the port and the bind address, warning
// loudly about a remote bind.
func checkStartOptions(f *Factory, o *proxyStartOptions) error {
	if o.Port < 1 || o.Port > 65535 {
		return usageError("agentsecrets proxy start", "--port %d is not a TCP port (1-65535)", o.Port)
	}
	if o.Timeout <= 0 || o.Timeout > proxy.MaxTimeout {
		return usageError("agentsecrets proxy start", "--timeout %s must be between 1ms and 1h", o.Timeout)
	}
	remote, err := proxy.CheckBind(o.Bind, o.AllowRemote)
	if errors.Is(err, proxy.ErrRemoteBind) {
		return newError(ExitUsage, "keep the default (127.0.0.1), or pass --allow-remote if other machines must reach it",
			"refusing to listen on %s: it is not a loopback address", o.Bind)
	}
	if err != nil { // the address is not repeated: a value may be typed where it goes
		return usageError("agentsecrets proxy start", "--bind %s: not an IP address or localhost", vault.Characters(o.Bind))
	}
	if remote && !o.Foreground {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: WARNING: the proxy will listen on %s, reachable from other machines; anyone with the session token can make calls with your secrets\n", o.Bind)
	}
	return nil
}

func (f *Factory) proxyFiles() (proxy.Files, error) {
	s, err := f.Store()
	if err != nil {
		return proxy.Files{}, err
	}
	return proxy.Files{Dir: s.Home()}, nil
}

// prepareStart checks the start options and that no proxy is running yet,
// and returns the proxy's files in the home directory.
func prepareStart(f *Factory, o *proxyStartOptions) (proxy.Files, error) {
	if err := checkStartOptions(f, o); err != nil {
		return proxy.Files{}, err
	}
	files, err := f.proxyFiles()
	if err != nil {
		return proxy.Files{}, err
	}
	if st, _, running := proxyRunning(files); running {
		return proxy.Files{}, newError(ExitError, "agentsecrets proxy stop", "a proxy is already running (pid %d on %s)", st.PID, st.Addr())
	}
	return files, nil
}

// runProxyForeground serves until SIGINT or SIGTERM, then shuts down
// gracefully.
func runProxyForeground(ctx context.Context, f *Factory, o *proxyStartOptions) error {
	files, err := prepareStart(f, o)
	if err != nil {
		return err
	}
	h, err := newProxyHandler(f, o)
	if err != nil {
		return err
	}
	ln, err := proxy.Listen(o.Bind, o.Port)
	if errors.Is(err, proxy.ErrPortInUse) {
		return portInUse(o.Port)
	}
	if err != nil {
		return err
	}
	vctx, err := f.Context()
	if err != nil {
		ln.Close()
		return err
	}
	st := proxy.State{PID: os.Getpid(), Bind: o.Bind, Port: o.Port, Started: time.Now().UTC(),
		Workspace: vctx.Workspace, Project: vctx.Project, Environment: vctx.Environment}
	// Check again and record under the home's lock: two starts racing
	// past prepareStart (on different ports) must not leave two daemons.
	// Readers take it too (Files.Snapshot), and so never see half a record.
	unlock, err := files.Lock()
	if err != nil {
		ln.Close()
		return err
	}
	if cur, err := files.Read(); err == nil && cur.PID != st.PID && proxy.Alive(cur.PID) && isProxyProcess(cur, recordedToken(files)) {
		unlock()
		ln.Close()
		return newError(ExitError, "agentsecrets proxy stop", "a proxy is already running (pid %d on %s)", cur.PID, cur.Addr())
	}
	err = files.Write(st, h.Token)
	unlock()
	if err != nil {
		ln.Close()
		return err
	}
	defer files.RemoveIfOwner(st.PID)
	if len(h.AllowHosts) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: WARNING: listening on %s, reachable from other machines\n", o.Bind)
	}
	fmt.Fprintf(f.IO.ErrOut, "agentsecrets: proxy listening on http://%s%s (pid %d), serving %s\n", st.Addr(), proxy.PathProxy, st.PID, st.Serves())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = proxy.Serve(ctx, ln, h)
	fmt.Fprintf(f.IO.ErrOut, "agentsecrets: proxy stopped\n")
	return err
}

// newProxyHandler opens the runner (cached vault, redaction of every secret
// of the environment) and reads the vault and the agent tokens once, so a
// locked vault fails the start rather than the first request.
func newProxyHandler(f *Factory, o *proxyStartOptions) (*proxy.Handler, error) {
	r, v, err := f.Runner(true)
	if err != nil {
		return nil, err
	}
	r.Vault = proxy.NewBindingCache(v)
	if _, err := v.Allowlist(); err != nil {
		return nil, err
	}
	if _, err := v.All(); err != nil {
		return nil, err
	}
	agents := proxy.NewTokenCache(v.Store)
	if err := agents.Refresh(); err != nil {
		return nil, err
	}
	token, err := proxy.NewSessionToken()
	if err != nil {
		return nil, err
	}
	h := proxy.NewHandler(r, token)
	h.Timeout = o.Timeout
	h.Identify = agents.Identify
	h.Sync = func() error {
		// Agent tokens first and whatever else fails: a revoked token must
		// stop working even when the values cannot be read (a locked
		// keychain).
		tokensErr := agents.Refresh()
		v.Refresh()
		if _, err := v.Allowlist(); err != nil {
			return errors.Join(tokensErr, err)
		}
		if _, err := v.All(); err != nil {
			return errors.Join(tokensErr, err)
		}
		return tokensErr
	}
	if remote, _ := proxy.CheckBind(o.Bind, o.AllowRemote); remote {
		h.AllowHosts = []string{o.Bind}
	}
	return h, nil
}

func portInUse(port int) error {
	return newError(ExitError, fmt.Sprintf("stop what holds it, or choose another: agentsecrets proxy start --port %d", port+1),
		"port %d is already in use", port)
}

// proxyRunning reports the recorded proxy and its session token when its
// process is alive and it answers (verifyProxy). A pid file whose process
// is gone is removed.
func proxyRunning(files proxy.Files) (proxy.State, string, bool) {
	st, token, err := files.Snapshot()
	if err != nil {
		return st, "", false
	}
	if !proxy.Alive(st.PID) {
		_ = files.RemoveIfOwner(st.PID)
		return st, "", false
	}
	return st, token, verifyProxy(st, token) == nil
}

// recordedToken is the token file's content, "" when it cannot be read.
func recordedToken(files proxy.Files) string {
	token, _ := files.Token()
	return token
}

// errNotOurs means a server answers on the recorded address but does not
// hold this home's session token.
var errNotOurs = errors.New("not the proxy recorded here")

// verifyProxy checks that the recorded proxy answers /health and accepts
// this home's session token, recorded with st: a recycled pid while
// another server (another home's proxy, any /health) holds the port is not
// taken for it.
func verifyProxy(st proxy.State, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := proxy.Health(ctx, st.Addr()); err != nil {
		return err
	}
	if token == "" {
		return errNotOurs
	}
	if proxy.Verify(ctx, st.Addr(), token) != nil {
		return errNotOurs
	}
	return nil
}

// startWait bounds how long start waits for the daemon to answer.
const startWait = 30 * time.Second

// startProxyDaemon runs `proxy start --foreground` detached (new session,
// stdin /dev/null, output to proxy.log) and waits for its health endpoint.
func startProxyDaemon(ctx context.Context, f *Factory, o *proxyStartOptions) error {
	files, err := prepareStart(f, o)
	if err != nil {
		return err
	}
	if ln, err := proxy.Listen(o.Bind, o.Port); errors.Is(err, proxy.ErrPortInUse) {
		return portInUse(o.Port)
	} else if err != nil {
		return err
	} else {
		ln.Close()
	}
	cmd, logPath, err := daemonCommand(f, files, o)
	if err != nil {
		return err
	}
	var logStart int64 // the log is appended to; this run's lines start here
	if info, err := os.Stat(logPath); err == nil {
		logStart = info.Size()
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("proxy: start daemon: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	st, err := waitReady(ctx, files, cmd.Process.Pid, exited)
	if err != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		code := ExitError
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			code = exit.ExitCode() // e.g. 4 when the vault is locked
		}
		return newError(code, "see "+logPath, "the proxy did not start: %v%s", err, logTail(logPath, logStart))
	}
	fmt.Fprintf(f.IO.Out, "proxy started on http://%s%s (pid %d)\n", st.Addr(), proxy.PathProxy, st.PID)
	fmt.Fprintf(f.IO.Out, "serving:       %s; after an environment switch, restart it\n", st.Serves())
	fmt.Fprintf(f.IO.Out, "session token: %s\n", files.Path(proxy.TokenFile))
	return nil
}

// daemonCommand is this program run as `proxy start --foreground` with
// the same flags, detached from the terminal.
func daemonCommand(f *Factory, files proxy.Files, o *proxyStartOptions) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("proxy: find own executable: %v", err)
	}
	args := []string{"proxy", "start", "--foreground", "--port", strconv.Itoa(o.Port), "--bind", o.Bind,
		"--timeout", o.Timeout.String()}
	if o.AllowRemote {
		args = append(args, "--allow-remote")
	}
	if f.Project != "" {
		args = append(args, "--project", f.Project)
	}
	if f.Environment != "" {
		args = append(args, "--env", f.Environment)
	}
	if err := fsutil.EnsureDir(files.Dir); err != nil {
		return nil, "", err
	}
	logPath := files.Path(proxy.LogFile)
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fsutil.FileMode)
	if err != nil {
		return nil, "", fmt.Errorf("proxy: open log: %v", err)
	}
	_ = logFile.Chmod(fsutil.FileMode)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		logFile.Close()
		return nil, "", err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, logFile, logFile
	if err := detach(cmd); err != nil {
		logFile.Close()
		devNull.Close()
		return nil, "", err
	}
	return cmd, logPath, nil
}

// waitReady polls until the daemon has written its pid file and answers on
// /health, it exits, or startWait passes.
func waitReady(ctx context.Context, files proxy.Files, pid int, exited <-chan error) (proxy.State, error) {
	deadline := time.Now().Add(startWait)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("it exited")
			}
			return proxy.State{}, err
		case <-ctx.Done():
			return proxy.State{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		st, err := files.Read()
		if err != nil || st.PID != pid {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err = proxy.Health(hctx, st.Addr())
		cancel()
		if err == nil {
			return st, nil
		}
	}
	return proxy.State{}, fmt.Errorf("no answer on /health within %s", startWait)
}

// logTail returns the last lines the daemon wrote to its log from offset
// from on (earlier runs' lines are not this failure's), indented, for an
// error message.
func logTail(path string, from int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) <= from {
		return ""
	}
	data = data[from:]
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

type proxyStatus struct {
	Running     bool      `json:"running"`
	PID         int       `json:"pid,omitempty"`
	Address     string    `json:"address,omitempty"`
	URL         string    `json:"url,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	TokenFile   string    `json:"token_file,omitempty"`
	Workspace   string    `json:"workspace,omitempty"`
	Project     string    `json:"project,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}

func newProxyStatusCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Say whether the proxy is running (process alive and /health answering)",
		Long: `Report whether the proxy runs: the recorded process must be alive and answer
on /health. A pid file left by a proxy that died is removed. Exit code 0
when it runs, 1 when it does not.`,
		Example: "  agentsecrets proxy status --json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			files, err := f.proxyFiles()
			if err != nil {
				return err
			}
			s := readProxyStatus(files)
			if asJSON {
				if err := f.printJSON(s); err != nil {
					return err
				}
			} else {
				printProxyStatus(f, s)
			}
			if !s.Running {
				return &silentError{code: ExitError}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func readProxyStatus(files proxy.Files) proxyStatus {
	st, token, err := files.Snapshot()
	if errors.Is(err, proxy.ErrNotRunning) {
		return proxyStatus{Detail: "no proxy started"}
	}
	if err != nil {
		return proxyStatus{Detail: err.Error()}
	}
	if !proxy.Alive(st.PID) {
		_ = files.RemoveIfOwner(st.PID)
		return proxyStatus{Detail: fmt.Sprintf("process %d is gone; removed its stale pid file", st.PID)}
	}
	if err := verifyProxy(st, token); errors.Is(err, errNotOurs) {
		return proxyStatus{Detail: fmt.Sprintf("what answers on http://%s does not hold this home's session token: the pid file (process %d) is stale or another home's", st.Addr(), st.PID)}
	} else if err != nil {
		return proxyStatus{PID: st.PID, Address: st.Addr(),
			Detail: fmt.Sprintf("process %d is alive but does not answer on http://%s%s", st.PID, st.Addr(), proxy.PathHealth)}
	}
	return proxyStatus{Running: true, PID: st.PID, Address: st.Addr(), URL: "http://" + st.Addr() + proxy.PathProxy,
		Started: st.Started, TokenFile: files.Path(proxy.TokenFile),
		Workspace: st.Workspace, Project: st.Project, Environment: st.Environment}
}

func printProxyStatus(f *Factory, s proxyStatus) {
	if !s.Running {
		fmt.Fprintf(f.IO.Out, "proxy: not running (%s)\n", s.Detail)
		fmt.Fprintln(f.IO.Out, "start it with: agentsecrets proxy start")
		return
	}
	fmt.Fprintf(f.IO.Out, "proxy: running\n")
	fmt.Fprintf(f.IO.Out, "  pid:        %d\n", s.PID)
	fmt.Fprintf(f.IO.Out, "  url:        %s\n", s.URL)
	if !s.Started.IsZero() {
		fmt.Fprintf(f.IO.Out, "  started:    %s (%s ago)\n", s.Started.Local().Format(time.DateTime), time.Since(s.Started).Round(time.Second))
	}
	fmt.Fprintf(f.IO.Out, "  token file: %s\n", s.TokenFile)
	if s.Project != "" {
		fmt.Fprintf(f.IO.Out, "  serving:    project %q (%s) of workspace %q\n", s.Project, s.Environment, s.Workspace)
	}
}

// stopWait bounds how long stop waits for in-flight requests to finish.
const stopWait = proxy.ShutdownTimeout + 5*time.Second

func newProxyStopCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "stop",
		Short:   "Stop the proxy gracefully (in-flight requests finish)",
		Example: "  agentsecrets proxy stop",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			files, err := f.proxyFiles()
			if err != nil {
				return err
			}
			st, token, err := files.Snapshot()
			if errors.Is(err, proxy.ErrNotRunning) {
				fmt.Fprintln(f.IO.Out, "proxy: not running")
				return nil
			}
			if err != nil {
				return err
			}
			if !proxy.Alive(st.PID) || !isProxyProcess(st, token) {
				_ = files.RemoveIfOwner(st.PID)
				fmt.Fprintf(f.IO.Out, "proxy: not running (removed the stale pid file of process %d)\n", st.PID)
				return nil
			}
			return stopProxy(f, files, st)
		},
	}
}

// isProxyProcess guards against a recycled pid: the proxy on the recorded
// address must hold this home's token, recorded with st (verifyProxy), or
// the process must carry our arguments.
func isProxyProcess(st proxy.State, token string) bool {
	if verifyProxy(st, token) == nil {
		return true
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID))
	if err != nil || !strings.Contains(string(cmdline), "proxy\x00start\x00--foreground") {
		return false
	}
	// A proxy of another home may carry the same arguments: one that
	// started after the recorded proxy did is not it, but took its pid.
	started, ok := processStart(st.PID)
	return !ok || st.Started.IsZero() || !started.After(st.Started.Add(startSlack))
}

// startSlack covers the rounding of processStart (the boot time is in
// whole seconds).
const startSlack = 2 * time.Second

// processStart is when process pid started, from /proc (Linux): the boot
// time (/proc/stat btime) plus the process's start in clock ticks after
// boot (/proc/PID/stat, field 22), which the kernel gives in USER_HZ,
// 100 a second.
func processStart(pid int) (time.Time, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	// The fields after the command name, which is in parentheses: state
	// (field 3) first, so starttime is the 20th.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return time.Time{}, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	sys, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.SplitSeq(string(sys), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / 100), true
		}
	}
	return time.Time{}, false
}

func stopProxy(f *Factory, files proxy.Files, st proxy.State) error {
	if err := terminate(st.PID); err != nil {
		return err
	}
	deadline := time.Now().Add(stopWait)
	for proxy.Alive(st.PID) {
		if time.Now().After(deadline) {
			_ = kill(st.PID)
			_ = files.RemoveIfOwner(st.PID)
			return newError(ExitError, "", "the proxy (pid %d) did not stop within %s; killed it", st.PID, stopWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = files.RemoveIfOwner(st.PID)
	fmt.Fprintf(f.IO.Out, "proxy stopped (pid %d)\n", st.PID)
	return nil
}

// warnOtherContext warns when the active context is not the one the
// running proxy serves: a sync re-reads the served context only, so after
// an environment switch the proxy still injects the old environment's
// secrets until it is restarted.
func warnOtherContext(f *Factory, st proxy.State) error {
	vctx, err := f.Context()
	if err != nil || st.Project == "" {
		return nil // no active context here to compare with
	}
	if vctx.Workspace == st.Workspace && vctx.Project == st.Project && vctx.Environment == st.Environment {
		return nil
	}
	fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: the proxy serves %s, and the active context is project %q (%s)\n", st.Serves(), vctx.Project, vctx.Environment)
	fmt.Fprintf(f.IO.ErrOut, "agentsecrets: hint: to serve the active context: agentsecrets proxy stop && agentsecrets proxy start\n")
	return nil
}

func newProxySyncCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "sync",
		Short:   "Make the running proxy re-read the allowlist, bindings, values and revoked agent tokens",
		Example: "  agentsecrets proxy sync",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			files, err := f.proxyFiles()
			if err != nil {
				return err
			}
			st, token, running := proxyRunning(files)
			if !running {
				return newError(ExitError, "agentsecrets proxy start", "the proxy is not running; it reads the vault when it starts")
			}
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			if err := proxy.RequestSync(ctx, st.Addr(), token); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "proxy synced: allowlist, bindings, values and agent tokens of %s re-read\n", st.Serves())
			return warnOtherContext(f, st)
		},
	}
}
