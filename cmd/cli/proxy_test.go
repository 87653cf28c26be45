package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/proxy"
)

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// stopDaemonOnCleanup kills a proxy the test left running.
func stopDaemonOnCleanup(t *testing.T, sb *sandbox) {
	t.Cleanup(func() {
		st, err := (proxy.Files{Dir: sb.home}).Read()
		if err == nil && proxy.Alive(st.PID) {
			killHard(st.PID)
		}
	})
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// proxied sends one request through the proxy at port.
func proxied(t *testing.T, port int, token, target string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/proxy", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-AS-Session-Token", token)
	req.Header.Set("X-AS-Target-URL", target)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyStartStatusStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	api := newEchoServer(t)
	port := freePort(t)
	files := proxy.Files{Dir: sb.home}

	out, _, code := sb.run("", "proxy", "status")
	if code != 1 || !strings.Contains(out, "not running") {
		t.Fatalf("status before start: %d %q", code, out)
	}
	out = sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	if !strings.Contains(out, fmt.Sprintf("proxy started on http://127.0.0.1:%d/proxy", port)) {
		t.Fatalf("start: %q", out)
	}
	for _, name := range []string{proxy.PIDFile, proxy.TokenFile, proxy.StateFile, proxy.LogFile} {
		if m := mode(t, files.Path(name)); m != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, m)
		}
	}
	st, err := files.Read()
	if err != nil || !proxy.Alive(st.PID) || st.Port != port {
		t.Fatalf("state %+v %v", st, err)
	}
	token1, err := files.Token()
	if err != nil || len(token1) != 64 {
		t.Fatalf("token file: %v", err)
	}

	out = sb.mustRun("", "proxy", "status", "--json")
	var s proxyStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil || !s.Running || s.PID != st.PID {
		t.Fatalf("status --json: %q", out)
	}
	if s.Project != "proj" || s.Environment != "development" || s.Workspace != "default" {
		t.Errorf("status --json names the served context %q/%q/%q, want default/proj/development", s.Workspace, s.Project, s.Environment)
	}
	if out := sb.mustRun("", "proxy", "status"); !strings.Contains(out, `serving:    project "proj" (development)`) {
		t.Errorf("status does not name the served context: %q", out)
	}

	// A call through the daemon: injected, and the echo redacted.
	status, body := proxied(t, port, token1, api.URL+"/v1", "X-AS-Inject-Bearer", "API_KEY")
	if status != 200 || !strings.Contains(body, "[REDACTED_BY_AGENTSECRETS]") {
		t.Fatalf("proxied call: %d %s", status, body)
	}
	noLeak(t, "proxied response", body, callSecret)
	if status, _ := proxied(t, port, "wrong", api.URL+"/v1"); status != 401 {
		t.Errorf("wrong token: %d", status)
	}

	_, errOut, code := sb.run("", "proxy", "start", "--port", strconv.Itoa(port))
	if code != 1 || !strings.Contains(errOut, "already running") {
		t.Errorf("second start: %d %q", code, errOut)
	}
	out, errOut = sb.mustRun("", "proxy", "sync"), ""
	if !strings.Contains(out, `of project "proj" (development) re-read`) {
		t.Errorf("sync: %q", out)
	}
	// After a switch the proxy still serves what it started with: sync
	// says so instead of implying it followed.
	sb.mustRun("", "environment", "switch", "staging")
	out, errOut, code = sb.run("", "proxy", "sync")
	if code != 0 || !strings.Contains(errOut, `warning: the proxy serves project "proj" (development), and the active context is project "proj" (staging)`) ||
		!strings.Contains(errOut, "hint: to serve the active context: agentsecrets proxy stop && agentsecrets proxy start") {
		t.Errorf("sync after a switch: %d %q %q", code, out, errOut)
	}
	sb.mustRun("", "environment", "switch", "development")

	out = sb.mustRun("", "proxy", "stop")
	if !strings.Contains(out, "proxy stopped") {
		t.Errorf("stop: %q", out)
	}
	if proxy.Alive(st.PID) {
		t.Error("process still alive after stop")
	}
	for _, name := range []string{proxy.PIDFile, proxy.TokenFile, proxy.StateFile} {
		if _, err := os.Stat(files.Path(name)); !os.IsNotExist(err) {
			t.Errorf("%s left after stop", name)
		}
	}
	if _, _, code := sb.run("", "proxy", "status"); code != 1 {
		t.Errorf("status after stop: exit %d", code)
	}
	if _, errOut, code := sb.run("", "proxy", "sync"); code != 1 || !strings.Contains(errOut, "not running") {
		t.Errorf("sync when stopped: %d %q", code, errOut)
	}

	// A new start has a new token.
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	token2, _ := files.Token()
	if token2 == token1 || len(token2) != 64 {
		t.Error("the session token did not change between starts")
	}
	sb.mustRun("", "proxy", "stop")

	// A daemon that cannot open the vault: start exits with the daemon's
	// code (4, a human must act) and quotes this run's log lines only.
	env := sb.env
	sb.env = append(slices.Clone(env), "AGENTSECRETS_PASSPHRASE=not-the-passphrase")
	_, errOut, code = sb.run("", "proxy", "start", "--port", strconv.Itoa(port))
	sb.env = env
	if code != ExitAuth || !strings.Contains(errOut, "wrong passphrase") {
		t.Errorf("start with a locked vault: exit %d, want %d\n%s", code, ExitAuth, errOut)
	}
	if strings.Contains(errOut, "proxy listening") {
		t.Errorf("start quotes an earlier run's log lines:\n%s", errOut)
	}
	noLeak(t, "command output", sb.captured.String(), callSecret)
}

func TestProxyStalePIDFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	files := proxy.Files{Dir: sb.home}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := proxy.State{PID: dead.Process.Pid, Bind: "127.0.0.1", Port: freePort(t)}
	if err := files.Write(stale, "old-token"); err != nil {
		t.Fatal(err)
	}
	out, _, code := sb.run("", "proxy", "status")
	if code != 1 || !strings.Contains(out, "stale pid file") {
		t.Fatalf("status with a stale pid file: %d %q", code, out)
	}
	if _, err := os.Stat(files.Path(proxy.PIDFile)); !os.IsNotExist(err) {
		t.Error("stale pid file not removed")
	}

	if err := files.Write(stale, "old-token"); err != nil {
		t.Fatal(err)
	}
	out = sb.mustRun("", "proxy", "stop")
	if !strings.Contains(out, "stale pid file") {
		t.Errorf("stop with a stale pid file: %q", out)
	}

	// start over a stale pid file works.
	if err := files.Write(stale, "old-token"); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	if tok, _ := files.Token(); tok == "old-token" {
		t.Error("token not renewed")
	}
	sb.mustRun("", "proxy", "stop")
}

func TestProxyPortInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, args := range [][]string{
		{"proxy", "start", "--port", strconv.Itoa(port)},
		{"proxy", "start", "--foreground", "--port", strconv.Itoa(port)},
	} {
		_, errOut, code := sb.run("", args...)
		if code != 1 || !strings.Contains(errOut, fmt.Sprintf("port %d is already in use", port)) || !strings.Contains(errOut, "hint:") || !strings.Contains(errOut, "--port") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if _, err := os.Stat((proxy.Files{Dir: sb.home}).Path(proxy.PIDFile)); !os.IsNotExist(err) {
		t.Error("a failed start left a pid file")
	}
}

func TestProxyRefusesRemoteBind(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	_, errOut, code := sb.run("", "proxy", "start", "--bind", "0.0.0.0", "--port", strconv.Itoa(freePort(t)))
	if code != ExitUsage || !strings.Contains(errOut, "not a loopback address") || !strings.Contains(errOut, "--allow-remote") {
		t.Errorf("remote bind: %d %q", code, errOut)
	}
}

// TestProxyDefaultBindIsLoopback is DESIGN §7 invariant 3 for the daemon:
// started without --bind, its listening socket is bound to a loopback
// address (not the wildcard), so no other interface of the machine reaches it.
func TestProxyDefaultBindIsLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("reads the listening sockets from /proc/net/tcp (Linux)")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	port := freePort(t)
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	defer sb.run("", "proxy", "stop")

	listening := listeningAddrs(t, port)
	if len(listening) == 0 {
		t.Fatalf("no socket listens on port %d", port)
	}
	for _, ip := range listening {
		if !ip.IsLoopback() {
			t.Errorf("the proxy listens on %v:%d, want loopback only", ip, port)
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), 2*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("the proxy answers on %v, a non-loopback address", ipn.IP)
		}
	}
}

// listeningAddrs returns the local addresses of the TCP sockets listening
// on port, from /proc/net/tcp and /proc/net/tcp6.
func listeningAddrs(t *testing.T, port int) []net.IP {
	t.Helper()
	var ips []net.IP
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, p, ok := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(p, 16, 16); !ok || err != nil || int(n) != port {
				continue
			}
			raw, err := hex.DecodeString(host)
			if err != nil || len(raw)%4 != 0 {
				t.Fatalf("%s: bad address %q", table, f[1])
			}
			// The kernel prints each 32-bit word in host (little-endian) order.
			for i := 0; i < len(raw); i += 4 {
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			ips = append(ips, net.IP(raw))
		}
	}
	if ips == nil {
		if _, err := os.Stat("/proc/net/tcp"); err != nil {
			t.Skip("no /proc/net/tcp on this system")
		}
	}
	return ips
}

// auditedSandbox makes calls that leave rows for three agents, two keys and
// two environments.
func auditedSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := callSandbox(t)
	sb.mustRun("prod-value-0123456789abcdef\n", "secrets", "set", "--env", "production", "PROD_KEY")
	api := newEchoServer(t)
	sb.mustRun("", "call", "--url", api.URL+"/a", "--bearer", "API_KEY", "--agent", "bot-1")
	sb.mustRun("", "call", "--url", api.URL+"/b", "--header", "X-Api-Key=BASIC_KEY", "--agent", "bot-2")
	sb.mustRun("", "call", "--env", "production", "--url", api.URL+"/c", "--bearer", "PROD_KEY", "--agent", "bot-1")
	return sb
}

func TestProxyLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := auditedSandbox(t)
	out := sb.mustRun("", "proxy", "logs")
	for _, want := range []string{"TIME", "AGENT", "REDACTION", "bot-1", "bot-2", "API_KEY", "BASIC_KEY", "PROD_KEY", "(REDACTED)", "production"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs table lacks %q:\n%s", want, out)
		}
	}
	tests := []struct {
		args []string
		want []string // keys of the rows, in order
	}{
		{[]string{"--secret", "API_KEY"}, []string{"API_KEY"}},
		{[]string{"--env", "production"}, []string{"PROD_KEY"}},
		{[]string{"--agent", "bot-1"}, []string{"API_KEY", "PROD_KEY"}},
		{[]string{"--last", "2"}, []string{"BASIC_KEY", "PROD_KEY"}},
		{[]string{"--agent", "nobody"}, nil},
	}
	for _, tc := range tests {
		out := sb.mustRun("", append([]string{"proxy", "logs", "--json"}, tc.args...)...)
		var rows []logEntry
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		var got []string
		for _, r := range rows {
			got = append(got, strings.Join(r.Keys, ","))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%v: rows %v, want %v", tc.args, got, tc.want)
		}
	}
	checkLogsAllowlistState(t, sb)
	noLeak(t, "logs output", sb.captured.String(), callSecret, "prod-value-0123456789abcdef")
}

// checkLogsAllowlistState: every row of --json names the allowlist entry
// that admitted its host and the digest of the list in force, which is
// the SHA-256 of what `workspace allowlist list` prints.
func checkLogsAllowlistState(t *testing.T, sb *sandbox) {
	t.Helper()
	sum := sha256.Sum256([]byte(sb.mustRun("", "workspace", "allowlist", "list")))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	var rows []map[string]any
	if err := json.Unmarshal([]byte(sb.mustRun("", "proxy", "logs", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r["allowlist_entry"] != "127.0.0.1" || r["allowlist_digest"] != digest {
			t.Errorf("row %v: allowlist_entry %v allowlist_digest %v, want 127.0.0.1 %s", r["id"], r["allowlist_entry"], r["allowlist_digest"], digest)
		}
	}
}

func TestProxyLogsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	for _, tc := range []struct {
		name, statement, want string
	}{
		// Each call records a segment of one row.
		{"edited row", "UPDATE segments SET events = json_set(events, '$[0].url', 'https://elsewhere.example/') WHERE first_id = 2",
			"row 2: hash mismatch (edited)"},
		{"deleted row", "DELETE FROM segments WHERE first_id = 2", "row 2 missing (deleted)"},
		{"edited allowlist entry", "UPDATE segments SET events = json_set(events, '$[0].allowlist_entry', '*.example.com') WHERE first_id = 2",
			"row 2: hash mismatch (edited)"},
		// The rows are intact; what a SQLite client reads them through is not.
		{"events view replaced", "DROP VIEW events; CREATE VIEW events AS SELECT 1 AS id", `schema: view "events" changed (edited)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := auditedSandbox(t)
			out := sb.mustRun("", "proxy", "logs", "--verify")
			if !strings.Contains(out, "audit log intact: 3 rows") {
				t.Fatalf("verify before tampering: %q", out)
			}
			tamperAudit(t, filepath.Join(sb.home, audit.FileName), tc.statement)
			out, _, code := sb.run("", "proxy", "logs", "--verify")
			if code != 1 || !strings.Contains(out, "BROKEN") || !strings.Contains(out, tc.want) {
				t.Errorf("verify after tampering: exit %d\n%s", code, out)
			}
		})
	}
}

// TestProxyLogsEditedRow: a row edited into something the store cannot
// read fails the listing with a hint to verify, and --verify reports it.
func TestProxyLogsEditedRow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := auditedSandbox(t)
	tamperAudit(t, filepath.Join(sb.home, audit.FileName), "UPDATE segments SET events = 'not json' WHERE first_id = 3")
	_, stderr, code := sb.run("", "proxy", "logs")
	if code != 1 || !strings.Contains(stderr, "row 3: unreadable") || !strings.Contains(stderr, "hint: agentsecrets proxy logs --verify") {
		t.Errorf("logs over an edited row: exit %d\n%s", code, stderr)
	}
	out, _, code := sb.run("", "proxy", "logs", "--verify")
	if code != 1 || !strings.Contains(out, "row 3: unreadable (edited)") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}

// tamperAudit edits the audit database the way someone with write access
// to the file would: its own connection, append-only triggers dropped.
func tamperAudit(t *testing.T, path string, statements ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{
		"DROP TRIGGER IF EXISTS segments_append_only_update",
		"DROP TRIGGER IF EXISTS segments_append_only_delete",
		"DROP TRIGGER IF EXISTS chain_head_keep",
	}, statements...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestProxyLogsWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := auditedSandbox(t)
	api := newEchoServer(t)
	cmd := sb.command("", "proxy", "logs", "--watch", "--json", "--last", "1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()
	lines := bufio.NewScanner(stdout)
	next := func() logEntry {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended early: %v", lines.Err())
		}
		var e logEntry
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			t.Fatalf("%q: %v", lines.Text(), err)
		}
		return e
	}
	if e := next(); e.ID != 3 {
		t.Errorf("first watched row %d, want the last one (3)", e.ID)
	}
	sb.mustRun("", "call", "--url", api.URL+"/d", "--bearer", "API_KEY", "--agent", "watcher")
	if e := next(); e.ID != 4 || e.Agent != "watcher" {
		t.Errorf("new row %+v", e)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after SIGINT: %v", err)
	}
}

// TestProxyStopSparesARecycledPID: a pid file whose process died and whose
// pid now belongs to another program, while another server answers
// {"status":"ok"} on the recorded port (a proxy of another home, any
// service with a /health): status does not call it running, and stop
// signals nothing.
func TestProxyStopSparesARecycledPID(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer other.Close()
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = victim.Process.Kill(); _ = victim.Wait() }()
	port := other.Listener.Addr().(*net.TCPAddr).Port
	files := proxy.Files{Dir: sb.home}
	if err := files.Write(proxy.State{PID: victim.Process.Pid, Bind: "127.0.0.1", Port: port}, "old-token"); err != nil {
		t.Fatal(err)
	}
	if out, _, code := sb.run("", "proxy", "status"); code != 1 {
		t.Errorf("status: exit %d, want 1: %q", code, out)
	}
	out := sb.mustRun("", "proxy", "stop")
	if !strings.Contains(out, "not running") {
		t.Errorf("stop: %q", out)
	}
	time.Sleep(100 * time.Millisecond)
	if !proxy.Alive(victim.Process.Pid) {
		t.Error("stop signalled a process that is not the proxy")
	}
}

// TestProxyConcurrentStarts: two starts at once, on different ports, leave
// one daemon, the one the files name.
func TestProxyConcurrentStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	ports := []int{freePort(t), freePort(t)}
	type result struct {
		out, errOut string
		code        int
	}
	results := make([]result, len(ports))
	done := make(chan struct{})
	for i, port := range ports {
		go func() {
			defer func() { done <- struct{}{} }()
			cmd := sb.command("", "proxy", "start", "--port", strconv.Itoa(port))
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			code := 0
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			results[i] = result{stdout.String(), stderr.String(), code}
		}()
	}
	for range ports {
		<-done
	}
	pidRE := regexp.MustCompile(`\(pid (\d+)\)`)
	for _, r := range results {
		if m := pidRE.FindStringSubmatch(r.out); m != nil {
			pid, _ := strconv.Atoi(m[1])
			t.Cleanup(func() { killHard(pid) })
		}
	}
	answering := 0
	for _, port := range ports {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if proxy.Health(ctx, fmt.Sprintf("127.0.0.1:%d", port)) == nil {
			answering++
		}
		cancel()
	}
	started := 0
	for _, r := range results {
		if r.code == 0 {
			started++
		}
	}
	if answering != 1 || started != 1 {
		t.Fatalf("%d proxies answer and %d starts succeeded, want 1 and 1: %+v", answering, started, results)
	}
	for _, r := range results {
		if r.code != 0 && (r.code != 1 || !strings.Contains(r.errOut, "a proxy is already running")) {
			t.Errorf("the start that lost: exit %d, stderr %q", r.code, r.errOut)
		}
	}
	sb.mustRun("", "proxy", "stop")
}

// TestProxySyncRevokesEvenWhenValuesFail: a sync re-reads the agent tokens
// before the values, and whatever the values do: with the encrypted file
// unreadable, the sync fails, yet a token revoked before it no longer
// verifies.
func TestProxySyncRevokesEvenWhenValuesFail(t *testing.T) {
	v := newMCPVault(t)
	v.set(t, "K_KEY", randomSecret("v_"))
	v.allow(t, "127.0.0.1")
	if err := v.store.CreateAgent("bot"); err != nil {
		t.Fatal(err)
	}
	issued, err := v.store.IssueToken("bot")
	if err != nil {
		t.Fatal(err)
	}
	token := string(issued.Token.Bytes())
	f := &Factory{IO: NewIOStreams(strings.NewReader(""), io.Discard, io.Discard, v.getenv), Getenv: v.getenv}
	t.Cleanup(func() { f.CloseAudit() })
	h, err := newProxyHandler(f, &proxyStartOptions{Bind: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Identify(token); err != nil {
		t.Fatalf("a valid token: %v", err)
	}
	if _, err := v.store.RevokeToken("bot", issued.ID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.env["AGENTSECRETS_HOME"], "vault.enc"), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(); err == nil {
		t.Fatal("sync succeeded with an unreadable vault")
	}
	if id, err := h.Identify(token); err == nil {
		t.Fatalf("the revoked token still verifies as %q after a failed sync", id)
	}
}

// TestProxyReadersWaitForAStartInProgress: a start records the proxy under
// the home's lock, renaming the token file, then the state file, then the
// pid file into place. status and stop must not read the files half way
// through (here the writer is paused there, holding the lock): they would
// pair the new start's address and token with the pid file of an earlier
// proxy, which died and whose pid was recycled, or its address with the
// new token. status would delete the new proxy's token, or send it to
// whatever now answers on the old address; stop would SIGTERM the process
// that took the old pid, which is not the proxy.
func TestProxyReadersWaitForAStartInProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	stopDaemonOnCleanup(t, sb)
	files := proxy.Files{Dir: sb.home}
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(freePort(t)))
	live, err := files.Read()
	if err != nil {
		t.Fatal(err)
	}
	token, err := files.Token()
	if err != nil {
		t.Fatal(err)
	}
	stateJSON := func(st proxy.State) string {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	write := func(name, data string) {
		if err := os.WriteFile(files.Path(name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// midStart leaves the files as a start that has written the token
	// (and the state, unless oldState is set) and not yet the pid file,
	// runs the command meanwhile, then completes the start and waits for
	// the command.
	midStart := func(oldPID int, oldState *proxy.State, args ...string) (string, int) {
		t.Helper()
		unlock, err := files.Lock()
		if err != nil {
			t.Fatal(err)
		}
		write(proxy.TokenFile, token+"\n")
		if oldState != nil {
			write(proxy.StateFile, stateJSON(*oldState))
		} else {
			write(proxy.StateFile, stateJSON(live))
		}
		write(proxy.PIDFile, strconv.Itoa(oldPID)+"\n")
		cmd := sb.command("", args...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			unlock()
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var werr error
		done := false
		select {
		case werr = <-exited:
			done = true
		case <-time.After(2 * time.Second):
		}
		write(proxy.StateFile, stateJSON(live))
		write(proxy.PIDFile, strconv.Itoa(live.PID)+"\n")
		unlock()
		if !done {
			werr = <-exited
		}
		code := 0
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			code = ee.ExitCode()
		} else if werr != nil {
			t.Fatal(werr)
		}
		return out.String(), code
	}

	// An earlier proxy's pid, now nobody's.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	out, code := midStart(dead.Process.Pid, nil, "proxy", "status")
	if tok, err := files.Token(); err != nil || tok != token {
		t.Errorf("status during a start removed the new proxy's token file (%v); status said: exit %d %q", err, code, out)
	}

	// An earlier proxy's pid and address: the pid now another program's,
	// the port another server's, which must not receive the new token.
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = victim.Process.Kill(); _ = victim.Wait() }()
	got := make(chan string, 16)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-AS-Session-Token"); v != "" {
			got <- v
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer other.Close()
	old := proxy.State{PID: victim.Process.Pid, Bind: "127.0.0.1", Port: other.Listener.Addr().(*net.TCPAddr).Port}
	out, code = midStart(victim.Process.Pid, &old, "proxy", "status")
	select {
	case <-got:
		t.Errorf("status during a start sent the new session token to the server on the old address; status said: exit %d %q", code, out)
	default:
	}

	// stop during the start: the recycled pid is left alone, and the
	// proxy the start records is the one stopped.
	out, code = midStart(victim.Process.Pid, nil, "proxy", "stop")
	time.Sleep(100 * time.Millisecond)
	if !proxy.Alive(victim.Process.Pid) {
		t.Errorf("stop during a start signalled process %d, not the proxy (%d): exit %d %q", victim.Process.Pid, live.PID, code, out)
	}
	if code != 0 || proxy.Alive(live.PID) {
		t.Errorf("stop did not stop the proxy (pid %d): exit %d %q", live.PID, code, out)
	}
}

// TestProxyStopSparesAnotherHomesProxy: this home's pid file names a proxy
// that died, and its pid now belongs to the proxy of another home (which
// the other home started later, here on the same port). That process
// carries the proxy's arguments, but it started after the recorded proxy
// did, so it is not it: stop leaves it running and a start here is not
// refused because of it.
func TestProxyStopSparesAnotherHomesProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("the arguments of a process are read from /proc (Linux)")
	}
	here, there := callSandbox(t), callSandbox(t)
	stopDaemonOnCleanup(t, here)
	stopDaemonOnCleanup(t, there)
	port := freePort(t)
	there.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	other, err := (proxy.Files{Dir: there.home}).Read()
	if err != nil {
		t.Fatal(err)
	}
	// The proxy itself is still recognised by its arguments and start
	// when it does not answer with the token.
	if !isProxyProcess(other, "") {
		t.Errorf("the recorded proxy %+v is not recognised by its arguments and start time", other)
	}
	// This home's proxy ran on the same port an hour ago, and died.
	files := proxy.Files{Dir: here.home}
	stale := proxy.State{PID: other.PID, Bind: "127.0.0.1", Port: port, Started: time.Now().Add(-time.Hour).UTC()}
	if err := files.Write(stale, "dead-proxy-token"); err != nil {
		t.Fatal(err)
	}
	if out, _, code := here.run("", "proxy", "status"); code != 1 {
		t.Errorf("status: exit %d, want 1: %q", code, out)
	}
	// A start here is not refused because of the other home's proxy.
	if out, errOut, code := here.run("", "proxy", "start", "--port", strconv.Itoa(freePort(t))); code != 0 {
		t.Errorf("start here: exit %d %q %q", code, out, errOut)
	} else {
		here.mustRun("", "proxy", "stop")
	}
	if err := files.Write(stale, "dead-proxy-token"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := here.run("", "proxy", "stop")
	time.Sleep(100 * time.Millisecond)
	if !proxy.Alive(other.PID) {
		t.Fatalf("stop here stopped the other home's proxy (pid %d): exit %d %q %q", other.PID, code, out, errOut)
	}
	if !strings.Contains(out, "not running") {
		t.Errorf("stop here: exit %d %q %q", code, out, errOut)
	}
	there.mustRun("", "proxy", "stop")
}
