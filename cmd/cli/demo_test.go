package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemo runs `make demo`'s program against this build: a temporary home
// with the file backend, a loopback API echoing credentials, calls in three
// styles. The demo itself fails unless the API received exactly the secret
// and the agent-facing output holds none of its forms.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	bin := buildBinary(t)
	cmd := exec.Command("go", "run", "github.com/The-17/agentsecrets/testdata/demo", bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"$ agentsecrets call", "[REDACTED_BY_AGENTSECRETS]", "proxy logs", "The API received the credential in every call"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
