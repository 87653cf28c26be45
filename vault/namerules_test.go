package vault

import (
	"regexp"
	"strings"
	"testing"
)

// nameRules pairs each hand-written name check with the pattern it stands
// for (see isProjectName).
var nameRules = []struct {
	name    string
	pattern *regexp.Regexp
	check   func(string) bool
}{
	{"isProjectName", regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`), isProjectName},
	{"isLabel", regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`), isLabel},
	{"isAgentName", regexp.MustCompile(`^[a-z0-9_-]{1,64}$`), isAgentName},
	{"isTokenID", regexp.MustCompile(`^tok_[0-9a-f]{12}$`), isTokenID},
}

func checkNameRules(t *testing.T, s string) {
	t.Helper()
	for _, r := range nameRules {
		if got, want := r.check(s), r.pattern.MatchString(s); got != want {
			t.Fatalf("%s(%q) = %v, the pattern %s says %v", r.name, s, got, r.pattern, want)
		}
	}
}

// TestNameRules holds the checks to their patterns on every string of up to
// three characters from an alphabet of the boundary cases, and on strings
// around each length limit.
func TestNameRules(t *testing.T) {
	alphabet := []string{"a", "f", "g", "z", "A", "Z", "0", "9", ".", "_", "-", "t", "\n", " ", "é", "\xff", "\x00", "`", "{", "@", "[", "/", ":"}
	var all func(prefix string, n int)
	all = func(prefix string, n int) {
		checkNameRules(t, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			all(prefix+c, n-1)
		}
	}
	all("", 3)
	for n := 1; n <= 70; n++ {
		for _, fill := range []string{"a", "A", "0", "-", "_", ".", "f"} {
			body := strings.Repeat(fill, n)
			for _, s := range []string{body, "a" + body, body + "a", "a" + body + "a", "-" + body, body + "-", body + "\n", "tok_" + body, "tok_" + body + "\n"} {
				checkNameRules(t, s)
			}
		}
	}
	for _, s := range []string{"tok_0123456789ab", "tok_0123456789aB", "tok_0123456789a", "tok_0123456789abc", "TOK_0123456789ab", "tok-0123456789ab", "tok_0123456789ag", "ast_0123456789ab"} {
		checkNameRules(t, s)
	}
}

func FuzzNameRules(f *testing.F) {
	for _, s := range []string{"", "a", "my-project", "api", "tok_0123456789ab", "ci_bot", "x.y", "-a", "a-", strings.Repeat("a", 64), strings.Repeat("b", 65), "\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkNameRules(t, s) })
}
