// Command demo runs the main job of agentsecrets end to end on embedded
// defaults: a throw-away home with the encrypted-file backend, a loopback API
// that echoes every credential it receives, a secret typed once on stdin,
// authenticated calls in three styles, and the echoed credential shown
// redacted. It needs nothing but Go.
//
// Usage: go run ./testdata/demo PATH/TO/agentsecrets
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/creack/pty"
)

// demoSecret is what the human types once; the agent-facing output below
// must never show it.
const demoSecret = "sk_demo_9f8e7d6c5b4a3210fedcba9876543210"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: demo PATH/TO/agentsecrets")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "demo: "+err.Error())
		os.Exit(1)
	}
}

type session struct {
	bin string
	env []string
	dir string
	out bytes.Buffer // everything the agent would have seen
}

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "agentsecrets-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	project := filepath.Join(tmp, "billing-service")
	if err := os.MkdirAll(project, 0o700); err != nil {
		return err
	}
	api, err := startEchoAPI()
	if err != nil {
		return err
	}
	defer api.Close()
	base := "http://" + api.Addr().String()

	s := &session{bin: bin, dir: project, env: append(os.Environ(),
		"AGENTSECRETS_HOME="+filepath.Join(tmp, "home"),
		"AGENTSECRETS_BACKEND=file",
		"AGENTSECRETS_PASSPHRASE=correct horse battery staple",
		"NO_COLOR=1",
	)}
	steps := []func() error{
		func() error { return s.agent("", "--version") },
		func() error { return s.agent("", "init", "--storage-mode", "1") },
		func() error { return s.human(demoSecret+"\n", "secrets", "set", "DEMO_KEY") },
		func() error { return s.humanAtTerminal("yes\n", "workspace", "allowlist", "add", "127.0.0.1") },
		func() error { return s.agent("", "status") },
		func() error { return s.agent("", "secrets", "list") },
		func() error { return s.agent("", "call", "--url", base+"/v1/balance", "--bearer", "DEMO_KEY") },
		func() error {
			return s.agent("", "call", "--url", base+"/geocode?address=Lagos", "--query", "key=DEMO_KEY")
		},
		func() error {
			return s.agent("", "call", "--url", base+"/oauth/token", "--method", "POST",
				"--body", `{"grant_type":"client_credentials"}`, "--body-field", "client_secret=DEMO_KEY")
		},
		func() error {
			return s.agent("", "call", "--json", "--url", base+"/v1/customers", "--bearer", "DEMO_KEY")
		},
		func() error { return s.agent("", "proxy", "logs", "--last", "4") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return s.verify()
}

// agent runs a command the way an agent would and shows its output.
func (s *session) agent(stdin string, args ...string) error {
	fmt.Printf("\n$ agentsecrets %s\n", strings.Join(quoteAll(args), " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s.out.Write(out.Bytes())
	os.Stdout.Write(out.Bytes())
	if err != nil {
		return fmt.Errorf("agentsecrets %s: %v", args[0], err)
	}
	return nil
}

// human runs a command with the value piped in, as a person would type it.
func (s *session) human(stdin string, args ...string) error {
	fmt.Printf("\n# the human, in their own terminal:\n$ agentsecrets %s   (value typed, never shown)\n", strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	return cmd.Run()
}

// humanAtTerminal answers a confirmation that only a terminal can give.
func (s *session) humanAtTerminal(answer string, args ...string) error {
	fmt.Printf("\n# the human confirms on a terminal:\n$ agentsecrets %s\n", strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	tty, err := pty.Start(cmd)
	if err != nil {
		return err
	}
	defer tty.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = tty.Write([]byte(answer))
	}()
	var screen bytes.Buffer
	_, _ = io.Copy(&screen, tty) // ends with EIO when the command exits
	if err := cmd.Wait(); err != nil {
		os.Stdout.Write(screen.Bytes())
		return fmt.Errorf("allowlist confirmation: %v", err)
	}
	os.Stdout.Write(screen.Bytes())
	return nil
}

// verify proves the point of the demo: the API received the credential, and
// nothing the agent saw holds it in any common encoding.
func (s *session) verify() error {
	forms := map[string]string{
		"raw":    demoSecret,
		"base64": base64.StdEncoding.EncodeToString([]byte(demoSecret)),
		"hex":    fmt.Sprintf("%x", demoSecret),
	}
	for name, form := range forms {
		if bytes.Contains(s.out.Bytes(), []byte(form)) {
			return fmt.Errorf("LEAK: the %s form of the secret reached the agent", name)
		}
	}
	if n := bytes.Count(bytes.ReplaceAll(s.out.Bytes(), []byte(" "), nil), []byte(`"credential_matches":true`)); n != 4 {
		return fmt.Errorf("the API confirmed the credential in %d of 4 calls", n)
	}
	if !bytes.Contains(s.out.Bytes(), []byte("[REDACTED_BY_AGENTSECRETS]")) {
		return fmt.Errorf("the echoed credential was not shown redacted")
	}
	fmt.Println("\nThe API received the credential in every call; the agent saw only [REDACTED_BY_AGENTSECRETS].")
	return nil
}

// receivedSecret reports whether the request carried exactly the demo
// secret as a bearer token, a "key" query parameter or a "client_secret"
// JSON field.
func receivedSecret(r *http.Request, body []byte) bool {
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	return r.Header.Get("Authorization") == "Bearer "+demoSecret ||
		r.URL.Query().Get("key") == demoSecret ||
		fields["client_secret"] == demoSecret
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " {}\"?&") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// startEchoAPI serves an API on 127.0.0.1 that echoes the credentials it
// received, raw and base64-encoded, in its body and a response header.
func startEchoAPI() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo-Authorization", auth)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"path":               r.URL.Path,
			"received_auth":      auth,
			"received_query":     r.URL.RawQuery,
			"received_body":      string(body),
			"received_auth_b64":  base64.StdEncoding.EncodeToString([]byte(auth)),
			"credential_matches": receivedSecret(r, body),
		})
	})
	go func() { _ = http.Serve(ln, handler) }()
	return ln, nil
}
