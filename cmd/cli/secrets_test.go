package cli

import (
	"strings"
	"testing"
)

// TestSecretsSetValueSize: a piped value over the limit is a usage error
// with a hint that stores nothing; a value of exactly the limit followed
// by the newline echo adds is stored.
func TestSecretsSetValueSize(t *testing.T) {
	sb := newSandbox(t)
	sb.mustRun("", "init")

	_, errOut, code := sb.run(strings.Repeat("a", maxValueSize+1), "secrets", "set", "BIG_KEY")
	if code != ExitUsage {
		t.Fatalf("oversize value: exit %d, want %d\n%s", code, ExitUsage, errOut)
	}
	if !strings.Contains(errOut, "agentsecrets: error: value for BIG_KEY is larger than") ||
		!strings.Contains(errOut, "\nagentsecrets: hint: ") {
		t.Errorf("oversize value: want an error and a hint, got\n%s", errOut)
	}
	if out := sb.mustRun("", "secrets", "list"); strings.Contains(out, "BIG_KEY") {
		t.Errorf("oversize value was stored:\n%s", out)
	}

	for _, nl := range []string{"\n", "\r\n"} {
		if _, errOut, code := sb.run(strings.Repeat("b", maxValueSize)+nl, "secrets", "set", "MAX_KEY"); code != 0 {
			t.Fatalf("value of exactly %d bytes then %q: exit %d\n%s", maxValueSize, nl, code, errOut)
		}
	}
}
