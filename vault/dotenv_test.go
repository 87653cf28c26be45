package vault

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// dotenvCase is a value for storage mode 2; refused values must be left
// out of .env (no line a reader would take for the key).
type dotenvCase struct {
	key, value string
	refused    bool
}

func dotenvCases() []dotenvCase {
	return []dotenvCase{
		{key: "PLAIN", value: "sk_live-123.abc/+:@%,"},
		{key: "BACKTICK", value: "a`touch PWNED`b"},
		{key: "CMDSUB", value: "$(touch PWNED)"},
		{key: "CMDSUB_SQ", value: "it's $(touch PWNED)"},
		{key: "BACKTICK_SQ", value: "it's `touch PWNED` x"},
		{key: "DOLLAR_HOME", value: "$HOME"},
		{key: "DOLLAR_BRACE", value: "${HOME}x$"},
		{key: "DOLLAR_SQ", value: "'$HOME'"},
		{key: "DOLLAR_PAREN_UPPER", value: "it's $(PWNED)"},
		{key: "BACKSLASH", value: `a\b`},
		{key: "BACKSLASH_N", value: `a\nb\r\t`},
		{key: "BACKSLASH_DOLLAR", value: `\$HOME \\$(touch PWNED)`},
		{key: "BACKSLASH_SQ", value: `it's a\b \$x \\ \" \` + "`x"},
		{key: "BACKSLASH_NEWLINE", value: "a\\\nb"},
		{key: "BACKSLASH_NEWLINE_SQ", value: "it's\\\n\\\\\nb"},
		{key: "SINGLE_QUOTE", value: "'"},
		{key: "SINGLE_QUOTES", value: "''it''s''"},
		{key: "DOUBLE_QUOTE", value: `"`},
		{key: "DOUBLE_QUOTES", value: `a "b"`},
		{key: "BOTH_QUOTES", value: `"it's" x`},
		{key: "NEWLINE", value: "a\nb\n"},
		{key: "NEWLINE_SQ", value: "it's\nthere\n\n"},
		{key: "CR", value: "a\rb\r"},
		{key: "CR_SQ", value: "\rit's\r"},
		{key: "LF_CR", value: "a\n\rb"},
		{key: "TAB", value: "\ta\tb\t"},
		{key: "HASH", value: "#not a comment"},
		{key: "HASH_SPACE", value: "a #b"},
		{key: "SPACES", value: "  lead and trail  "},
		{key: "EQUALS", value: "a=b=="},
		{key: "COLON_TILDE", value: "~/x:~/y"},
		{key: "GLOB", value: "*"},
		{key: "SEPARATORS", value: "a; touch PWNED | touch PWNED & touch PWNED > PWNED"},
		{key: "EXPORT_LINE", value: "x\nexport PWNED=1\n"},
		{key: "UNICODE", value: "héllo wörld ✓ 🔑 \u00a0\u0085\u2028"},
		{key: "UNICODE_SQ", value: "\u00a0it's\u0085"},
		{key: "INVALID_UTF8", value: "\xff\xfe\x80 \xc3"},
		{key: "CONTROL", value: "\x01\x1b[31m\x7f\x81\x88"},
		{key: "PEM", value: "-----BEGIN KEY-----\nMIIE+/=\n-----END KEY-----\n"},
		{key: "LONG", value: strings.Repeat("it's \\ \"q\" $x\n", 10000) + "`touch PWNED`"},
		{key: "LONG_PLAIN", value: strings.Repeat("a", 100000)},
		{key: "NUL", value: "a\x00b", refused: true},
		{key: "CRLF", value: "a\r\nb", refused: true},
		{key: "TRAILING_BACKSLASH", value: `\`, refused: true},
		{key: "TRAILING_BACKSLASHES", value: `a\\`, refused: true},
		{key: "SQ_TRAILING_DQ", value: `it's "x"`, refused: true},
	}
}

// TestDotenvValuesReadBackExactly writes adversarial values through storage
// mode 2, one at a time and then all together, and reads .env back by
// godotenv's rules and by sourcing it in sh and bash: every value comes
// back byte for byte, a refused value is left out with a warning, and
// nothing runs.
func TestDotenvValuesReadBackExactly(t *testing.T) {
	s, ctx, warn := newMode2Store(t)
	cases := dotenvCases()
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			must(t, s.Set(ctx, c.key, []byte(c.value)))
			defer func() { must(t, s.Delete(ctx, c.key)) }()
			checkDotenv(t, s, warn, []dotenvCase{c})
		})
	}
	t.Run("all", func(t *testing.T) {
		for _, c := range cases {
			must(t, s.Set(ctx, c.key, []byte(c.value)))
		}
		checkDotenv(t, s, warn, cases)
	})
}

// newMode2Store returns a store in a project of storage mode 2 and the
// writer of its warnings.
func newMode2Store(t *testing.T) (*Store, Context, *strings.Builder) {
	t.Helper()
	warn := new(strings.Builder)
	dir := filepath.Join(t.TempDir(), "two")
	must(t, os.Mkdir(dir, 0o700))
	s, err := Open(Options{Home: t.TempDir(), Cwd: dir, Backend: keychain.NewMemory(), Warn: warn, Getenv: func(string) string { return "" }})
	must(t, err)
	ctx, err := s.Init(InitOptions{StorageMode: 2})
	must(t, err)
	return s, ctx, warn
}

// checkDotenv reads the .env of s by godotenv's rules and by sourcing it
// in sh and bash, and checks the values of cases.
func checkDotenv(t *testing.T, s *Store, warn *strings.Builder, cases []dotenvCase) {
	t.Helper()
	dir := s.cwd
	src, err := os.ReadFile(filepath.Join(dir, ".env"))
	must(t, err)
	got, err := godotenvRead(string(src))
	if err != nil {
		t.Errorf("godotenv rules: %v", err)
	}
	for _, c := range cases {
		v, ok := got[c.key]
		switch {
		case c.refused && ok:
			t.Errorf("%s: refused value written to .env", c.key)
		case c.refused && !strings.Contains(warn.String(), "WARNING: "+c.key+" is not in "):
			t.Errorf("%s: no warning for the value left out: %q", c.key, warn.String())
		case !c.refused && v != c.value:
			t.Errorf("%s: godotenv rules read %q, want %q", c.key, abbrev(v), abbrev(c.value))
		}
	}
	for _, shell := range []string{"sh", "bash"} {
		path, err := exec.LookPath(shell)
		if err != nil && shell == "sh" {
			t.Skipf("not sourced: %v", err)
		} else if err != nil {
			t.Logf("not sourced: %v", err)
			continue
		}
		for _, locale := range []string{"C", "C.UTF-8"} {
			got := sourceDotenv(t, path, locale, dir, cases)
			for _, c := range cases {
				v, ok := got[c.key]
				switch {
				case c.refused && ok:
					t.Errorf("%s %s: refused value is set after sourcing .env", shell, c.key)
				case !c.refused && v != c.value:
					t.Errorf("%s %s: sourcing gave %q, want %q", shell, c.key, abbrev(v), abbrev(c.value))
				}
			}
		}
	}
	m, _ := filepath.Glob(filepath.Join(dir, "PWNED*"))
	for _, f := range m {
		t.Errorf("sourcing .env ran a command: it made %s", filepath.Base(f))
		must(t, os.Remove(f))
	}
}

// sourceDotenv sources dir/.env in shell (set -a; . ./.env) and returns the
// value of every set key of cases.
func sourceDotenv(t *testing.T, shell, locale, dir string, cases []dotenvCase) map[string]string {
	t.Helper()
	out := t.TempDir()
	script := "set -a; . ./.env\n"
	for _, c := range cases {
		script += fmt.Sprintf("if [ \"${%s+set}\" = set ]; then printf %%s \"$%[1]s\" > '%s'; fi\n", c.key, filepath.Join(out, c.key))
	}
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir, cmd.Env = dir, []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "LC_ALL=" + locale}
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("%s: %v\n%s", shell, err, b)
	}
	got := map[string]string{}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(out, c.key))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		must(t, err)
		got[c.key] = string(b)
	}
	return got
}

// abbrev shortens a long value for a failure message.
func abbrev(v string) string {
	if len(v) > 80 {
		return v[:80] + fmt.Sprintf("...(%d bytes)", len(v))
	}
	return v
}

// TestDotenvLeftOutValueLeavesNoStaleLine: a key whose new value cannot be
// written loses its old line instead of keeping the old value.
func TestDotenvLeftOutValueLeavesNoStaleLine(t *testing.T) {
	s, ctx, warn := newMode2Store(t)
	must(t, s.Set(ctx, "K", []byte("old")))
	must(t, s.Set(ctx, "OTHER", []byte("kept")))
	must(t, s.Set(ctx, "K", []byte("new\x00")))
	src, err := os.ReadFile(filepath.Join(s.cwd, ".env"))
	must(t, err)
	got, err := godotenvRead(string(src))
	if _, ok := got["K"]; ok || err != nil || got["OTHER"] != "kept" {
		t.Fatalf(".env = %q (%v)", src, err)
	}
	if strings.Contains(warn.String(), "new") || !strings.Contains(string(src), "# K is left out: its value holds a NUL byte") {
		t.Fatalf(".env = %q, warning %q", src, warn.String())
	}
}

// FuzzDotenvRoundTrip: every value is either written in a form godotenv's
// rules and a POSIX shell both read back exactly, or refused for one of
// the documented reasons.
func FuzzDotenvRoundTrip(f *testing.F) {
	for _, c := range dotenvCases() {
		f.Add(c.value)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, why := dotenvValue(v)
		if why != "" {
			dq := strings.Contains(v, "'") && strings.HasSuffix(v, `"`)
			if !strings.Contains(v, "\x00") && !strings.Contains(v, "\r\n") && !strings.HasSuffix(v, `\`) && !dq {
				t.Fatalf("%q refused (%s)", v, why)
			}
			return
		}
		got, err := godotenvRead("# header\nA=" + q + "\nB=after\n")
		if err != nil || got["A"] != v || got["B"] != "after" || len(got) != 2 {
			t.Fatalf("%q written %q: godotenv rules read %q (%v)", v, q, got, err)
		}
		if sh, err := shWord(q); err != nil || sh != v {
			t.Fatalf("%q written %q: a POSIX shell reads %q (%v)", v, q, sh, err)
		}
	})
}

// shWord reads q as the value of a POSIX shell assignment made of one
// literal word: bare bytes with no special meaning, '...', or "..." with
// no expansion ($ and ` only escaped) and only the escapes \\ \" \$ \`.
// Anything else is an error, even when a shell would accept it.
func shWord(q string) (string, error) {
	switch {
	case q == "":
		return "", nil
	case q[0] == '\'':
		if len(q) < 2 || q[len(q)-1] != '\'' || strings.Contains(q[1:len(q)-1], "'") {
			return "", errors.New("not one single-quoted string")
		}
		return q[1 : len(q)-1], nil
	case q[0] == '"':
		var b strings.Builder
		for i := 1; i < len(q); i++ {
			switch c := q[i]; c {
			case '"':
				if i != len(q)-1 {
					return "", errors.New("text after the closing quote")
				}
				return b.String(), nil
			case '$', '`':
				return "", fmt.Errorf("unescaped %c in double quotes", c)
			case '\\':
				if i+1 == len(q) || !strings.ContainsRune("\\\"$`", rune(q[i+1])) {
					return "", errors.New("backslash escaping no special byte")
				}
				i++
				b.WriteByte(q[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated double quote")
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("|&;<>()$`\\\"'*?[]#~={}!^", c) >= 0 {
			return "", fmt.Errorf("byte %q is not literal unquoted", c)
		}
	}
	return q, nil
}

// godotenvRead reads a .env file by the rules of joho/godotenv v1.5.1
// (parser.go; its latest release, what go get selects), written anew here
// to read what .env holds without adding the module: CR LF is turned into
// LF in the whole file; a statement is [export ]KEY= or KEY: then a value;
// a value in '...' is taken literally, one in "..." has \n and \r turned
// into line ends, \X into X but \$ kept, then $NAME and ${NAME} expanded
// from the keys read so far and \$ turned into $; a quote after a backslash
// does not end the value, and the quote bytes at both ends of what lies
// between the quotes are trimmed. An unquoted value runs to the line end,
// less a " #" comment and space at both ends, and is expanded too.
func godotenvRead(src string) (map[string]string, error) {
	out := map[string]string{}
	src = strings.ReplaceAll(src, "\r\n", "\n")
	for {
		src = strings.TrimLeftFunc(src, unicode.IsSpace)
		if src == "" {
			return out, nil
		}
		if src[0] == '#' {
			i := strings.IndexByte(src, '\n')
			if i < 0 {
				return out, nil
			}
			src = src[i:]
			continue
		}
		key, rest, err := godotenvKey(src)
		if err != nil {
			return nil, err
		}
		v, rest, err := godotenvVal(rest, out)
		if err != nil {
			return nil, err
		}
		out[key], src = v, rest
	}
}

// godotenvSpace is godotenv's isSpace: no line ends, but NEL and NBSP.
func godotenvSpace(r rune) bool { return strings.ContainsRune("\t\v\f\r \u0085\u00a0", r) }

func godotenvKey(src string) (key, rest string, err error) {
	src = strings.TrimLeftFunc(src, godotenvSpace)
	if t, ok := strings.CutPrefix(src, "export"); ok && strings.IndexFunc(t, godotenvSpace) == 0 {
		src = strings.TrimLeftFunc(t, godotenvSpace)
	}
	offset := 0
loop:
	for i := 0; i < len(src); i++ {
		switch r := rune(src[i]); {
		case godotenvSpace(r), r == '_', r == '.', unicode.IsLetter(r), unicode.IsNumber(r):
		case r == '=' || r == ':':
			key, offset = src[:i], i+1
			break loop
		default:
			return "", "", fmt.Errorf("unexpected character %q in variable name", r)
		}
	}
	if src == "" {
		return "", "", errors.New("zero length string")
	}
	return strings.TrimRightFunc(key, unicode.IsSpace), strings.TrimLeftFunc(src[offset:], godotenvSpace), nil
}

var (
	godotenvEscapeRE   = regexp.MustCompile(`\\.`)
	godotenvUnescapeRE = regexp.MustCompile(`\\([^$])`)
	godotenvExpandRE   = regexp.MustCompile(`(\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}?`)
)

func godotenvVal(src string, vars map[string]string) (v, rest string, err error) {
	if src == "" || (src[0] != '"' && src[0] != '\'') {
		eol := strings.IndexAny(src, "\n\r")
		if eol < 0 {
			eol = len(src)
		}
		line := []rune(src[:eol])
		end := len(line)
		for i := end - 1; i > 0; i-- {
			if line[i] == '#' && godotenvSpace(line[i-1]) {
				end = i
				break
			}
		}
		return godotenvExpand(strings.TrimFunc(string(line[:end]), godotenvSpace), vars), src[eol:], nil
	}
	quote := src[0]
	for i := 1; i < len(src); i++ {
		if src[i] != quote || src[i-1] == '\\' {
			continue
		}
		isQuote := func(r rune) bool { return r == rune(quote) }
		v = strings.TrimLeftFunc(strings.TrimRightFunc(src[:i], isQuote), isQuote)
		if quote == '"' {
			v = godotenvEscapeRE.ReplaceAllStringFunc(v, func(m string) string {
				switch m {
				case `\n`:
					return "\n"
				case `\r`:
					return "\r"
				}
				return m
			})
			v = godotenvExpand(godotenvUnescapeRE.ReplaceAllString(v, "$1"), vars)
		}
		return v, src[i+1:], nil
	}
	return "", "", errors.New("unterminated quoted value")
}

func godotenvExpand(v string, vars map[string]string) string {
	return godotenvExpandRE.ReplaceAllStringFunc(v, func(s string) string {
		m := godotenvExpandRE.FindStringSubmatch(s)
		switch {
		case m[1] == `\`:
			return s[1:]
		case m[4] != "":
			return vars[m[4]]
		}
		return s
	})
}

// TestRefusedInitChangesNothing: an init in storage mode 2 that fails
// (the vault does not open with the passphrase given, there is none, or
// the directory holds a .env agentsecrets did not write) changes nothing
// in the project directory nor in the home, so that the next init, with
// the cause fixed, is not told the directory is already initialized.
func TestRefusedInitChangesNothing(t *testing.T) {
	cases := []struct {
		name, pass string
		dotenv     string // content of a .env already in the directory; "": none
		want       error
	}{
		{"wrong passphrase", "wrong", "", keychain.ErrBadPassphrase},
		{"no passphrase", "", "", keychain.ErrNoPassphrase},
		{"the user's own .env", "pw", "DATABASE_URL=postgres://u:p@db/app\n", ErrExists},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home, first := t.TempDir(), filepath.Join(t.TempDir(), "app")
			must(t, os.Mkdir(first, 0o700))
			s := newFileStore(t, home, first, "pw")
			ctx, err := s.Init(InitOptions{})
			must(t, err)
			must(t, s.Set(ctx, "A_KEY", []byte("value a")))

			// A second checkout of the same project.
			dir := filepath.Join(t.TempDir(), "app")
			must(t, os.Mkdir(dir, 0o700))
			if tc.dotenv != "" {
				must(t, os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.dotenv), 0o600))
			}
			before := snapshot(t, home) + snapshot(t, dir)
			_, err = newFileStore(t, home, dir, tc.pass).Init(InitOptions{StorageMode: 2})
			if !errors.Is(err, tc.want) || (tc.dotenv != "" && !strings.Contains(err.Error(), filepath.Join(dir, ".env"))) {
				t.Fatalf("Init error = %v, want %v", err, tc.want)
			}
			if after := snapshot(t, home) + snapshot(t, dir); after != before {
				t.Fatalf("the refused init changed files:\n%s\n---\n%s", before, after)
			}
			if tc.dotenv != "" {
				return
			}
			if _, err := newFileStore(t, home, dir, "pw").Init(InitOptions{StorageMode: 2}); err != nil {
				t.Fatalf("init with the right passphrase after the refused one: %v", err)
			}
		})
	}
}

// TestStorageMode2KeepsTheUsersDotenv: storage mode 2 replaces only a
// .env agentsecrets wrote (or an empty one). A .env the user wrote, whose
// values may be nowhere else, is kept and the write is an error naming it.
func TestStorageMode2KeepsTheUsersDotenv(t *testing.T) {
	s, ctx, _ := newMode2Store(t)
	path := filepath.Join(s.cwd, ".env")
	must(t, s.Set(ctx, "A_KEY", []byte("a")))
	for _, tc := range []struct {
		name, content string
		kept          bool
	}{
		{"the user's own", "API_TOKEN=only copy\n", true},
		{"empty", "", false},
		{"one agentsecrets wrote", "", false}, // the .env of the previous write
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "one agentsecrets wrote" {
				must(t, os.WriteFile(path, []byte(tc.content), 0o600))
			}
			err := s.Set(ctx, "B_KEY", []byte("b "+tc.name))
			got, rerr := os.ReadFile(path)
			must(t, rerr)
			if tc.kept {
				if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), path) || string(got) != tc.content {
					t.Fatalf("Set error = %v, .env = %q; want ErrExists naming %s and the file kept", err, got, path)
				}
				return
			}
			if err != nil || !strings.Contains(string(got), "B_KEY='b "+tc.name+"'") {
				t.Fatalf("Set error = %v, .env = %q", err, got)
			}
		})
	}
}
