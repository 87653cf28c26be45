package cli

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/redact"
)

// loggedValues sets three values in v's environment and runs the calls
// that put them in audit rows as given: raw in a URL's query, as the
// method, and as a host the allowlist refuses. It returns the values.
func loggedValues(t *testing.T, v *mcpVault) []string {
	t.Helper()
	secret := randomSecret("sk_live_") + `+/"x` // escaped differently in a URL and in JSON
	token := nameShapedSecret()
	host := "h" + hex.EncodeToString([]byte(randomSecret("")))[:40] // a DNS label
	v.set(t, "STRIPE_KEY", secret)
	v.set(t, "AWS_KEY_ID", token)
	v.set(t, "HOST_KEY", host)
	v.allow(t, "127.0.0.1")
	up := newEchoUpstream(t)
	for _, args := range [][]string{
		{"call", "--url", up.URL + "/?token=" + secret},
		{"call", "--url", up.URL + "/", "--method", token},
		{"call", "--url", "http://" + host + ".example/", "--bearer", "STRIPE_KEY"},
	} {
		Run(args, NewIOStreams(strings.NewReader(""), io.Discard, io.Discard, v.getenv), v.getenv)
	}
	return []string{secret, token, host}
}

// runIn runs one command line in process with getenv.
func runIn(getenv func(string) string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Run(args, NewIOStreams(strings.NewReader(""), &out, &errOut, getenv), getenv)
	return out.String(), errOut.String(), code
}

// TestProxyLogsRedactValues: proxy logs prints the rows audit_logs gives
// the model, and an agent reads CLI output too: a value typed into a
// call's URL, its method or a refused host is redacted from the table and
// from --json, as audit_logs redacts it.
func TestProxyLogsRedactValues(t *testing.T) {
	v := newMCPVault(t)
	values := loggedValues(t, v)
	out, errOut, code := runIn(v.getenv, "proxy", "logs", "--json")
	if code != 0 {
		t.Fatalf("proxy logs --json: exit %d\n%s", code, errOut)
	}
	var rows []logEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 3 || rows[2].Decision != "blocked_allowlist" {
		t.Fatalf("want the three calls, the last refused:\n%s", out)
	}
	for _, args := range [][]string{{"proxy", "logs"}, {"proxy", "logs", "--json"}, {"proxy", "logs", "--last", "0", "--source", "call"}} {
		out, errOut, code := runIn(v.getenv, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		assertNoValue(t, strings.Join(args, " "), out+errOut, values...)
		if hiddenValues(out) < 3 {
			t.Errorf("%v: a row's value is not marked redacted:\n%s", args, out)
		}
	}
}

// TestProxyLogsLockedVault: without the vault there is no set to redact
// with: proxy logs fails with the vault's error and prints no row, while
// --verify, which prints no row's content, still runs.
func TestProxyLogsLockedVault(t *testing.T) {
	v := newMCPVault(t)
	values := loggedValues(t, v)
	locked := func(k string) string {
		if k == "AGENTSECRETS_PASSPHRASE" {
			return "not the passphrase"
		}
		return v.getenv(k)
	}
	for _, args := range [][]string{{"proxy", "logs"}, {"proxy", "logs", "--json"}} {
		out, errOut, code := runIn(locked, args...)
		if code == 0 || out != "" || !strings.Contains(errOut, "passphrase") {
			t.Errorf("%v with the wrong passphrase: exit %d, stdout %q\n%s", args, code, out, errOut)
		}
		assertNoValue(t, strings.Join(args, " "), out+errOut, values...)
	}
	out, errOut, code := runIn(locked, "proxy", "logs", "--verify")
	if code != 0 || !strings.Contains(out, "audit log intact: 3 rows") {
		t.Errorf("--verify with the wrong passphrase: exit %d\n%s%s", code, out, errOut)
	}
}

// TestProxyLogsWatchRedactsValues: --watch redacts the rows it starts
// with and those written while it runs, in the table and in JSON.
func TestProxyLogsWatchRedactsValues(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	token := nameShapedSecret()
	sb.mustRun(token+"\n", "secrets", "set", "AWS_KEY_ID")
	api := newEchoServer(t)
	sb.run("", "call", "--url", api.URL+"/?token="+callSecret)
	sb.run("", "call", "--url", api.URL+"/", "--method", token)
	for _, format := range [][]string{{"--json"}, nil} {
		cmd := sb.command("", append([]string{"proxy", "logs", "--watch", "--last", "0"}, format...)...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		guard := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		lines := bufio.NewScanner(stdout)
		var seen strings.Builder
		read := func(n int) {
			t.Helper()
			for range n {
				if !lines.Scan() {
					t.Fatalf("%v: watch ended early: %v\n%s%s", format, lines.Err(), seen.String(), stderr.String())
				}
				seen.WriteString(lines.Text() + "\n")
			}
		}
		if format == nil {
			read(1) // the header
		}
		read(2)
		sb.run("", "call", "--url", api.URL+"/?later="+callSecret, "--method", token)
		read(1)
		_ = cmd.Process.Signal(syscall.SIGINT)
		_, _ = io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: watch after SIGINT: %v\n%s", format, err, stderr.String())
		}
		guard.Stop()
		assertNoValue(t, "proxy logs --watch", seen.String()+stderr.String(), callSecret, token)
		if hiddenValues(seen.String()) < 3 {
			t.Errorf("%v: a row's value is not marked redacted:\n%s", format, seen.String())
		}
	}
}

// hiddenValues counts the values out shows hidden: redacted when printed,
// or recorded by their length only (a value given as the method).
func hiddenValues(out string) int {
	return strings.Count(out, redact.Replacement) + strings.Count(out, " characters)")
}
