package vault

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// Environment names. Every project has exactly these three.
const (
	Development = "development"
	Staging     = "staging"
	Production  = "production"
)

// Environments lists the environment names in display order.
var Environments = []string{Development, Staging, Production}

// DefaultWorkspace is the local workspace used when none is chosen.
const DefaultWorkspace = "default"

// MaxKeyNameLen bounds a key name.
const MaxKeyNameLen = 128

// The name rules below are checked by hand rather than by regular
// expressions compiled at start-up: a bounded repetition such as {0,63}
// compiles to a program of dozens of states, and the four patterns cost
// every process, whatever its command, ~1900 allocations (160 KB of fresh
// heap, a deep stack) and 1.5 ms before main. Each function states its
// pattern; TestNameRules and FuzzNameRules hold them to it.

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// isProjectName matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
func isProjectName(s string) bool {
	if s == "" || len(s) > 64 || !isASCIIAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isASCIIAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

const keyNameHint = "key names are UPPER_SNAKE_CASE: a capital letter, then capitals, digits and single underscores " +
	"(STRIPE_KEY, STRIPE_TEST_KEY, OPENAI_KEY, GITHUB_TOKEN, AWS_SECRET_KEY, SERVICENAME_KEY)"

// IsKeyName reports whether name is a key name: UPPER_SNAKE_CASE
// ([A-Z][A-Z0-9]*(_[A-Z0-9]+)*) of at most MaxKeyNameLen bytes.
func IsKeyName(name string) bool {
	if name == "" || len(name) > MaxKeyNameLen || name[0] < 'A' || name[0] > 'Z' || name[len(name)-1] == '_' {
		return false
	}
	for i := 1; i < len(name); i++ {
		switch c := name[i]; {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_' && name[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// ValidateKeyName accepts UPPER_SNAKE_CASE names such as STRIPE_KEY. The
// error says what is wrong with a rejected name and how long it is, never
// the name itself nor a copy of it: a value pasted where a key name goes
// would be printed where an agent reads it.
func ValidateKeyName(name string) error {
	if IsKeyName(name) {
		return nil
	}
	return newError(ErrInvalid, keyNameHint, "invalid key name (%d characters): %s", utf8.RuneCountInString(name), keyNameFault(name))
}

// keyNameFault says why name, which IsKeyName refuses, is not a key name.
func keyNameFault(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) > MaxKeyNameLen:
		return fmt.Sprintf("it is longer than %d bytes", MaxKeyNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return 'a' <= r && r <= 'z' }):
		return "it holds lower-case letters"
	case strings.ContainsFunc(name, func(r rune) bool { return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') }):
		return "it holds characters other than capital letters, digits and '_'"
	case name[0] < 'A' || name[0] > 'Z':
		return "it does not start with a capital letter"
	case strings.Contains(name, "__"):
		return "it holds '__'"
	}
	return "it ends with '_'"
}

// ValidateEnvironment accepts development, staging and production.
func ValidateEnvironment(env string) error {
	for _, e := range Environments {
		if env == e {
			return nil
		}
	}
	hint := "environments are " + strings.Join(Environments, ", ")
	if e := environmentMeant(env); e != "" {
		hint = "did you mean " + e + "? " + hint
	}
	return newError(ErrInvalid, hint, "%s", unknownEnvironment(env))
}

// unknownEnvironment is the message for env, which is not an environment:
// its length, never env itself (a value typed where an environment goes
// would be printed where an agent reads it).
func unknownEnvironment(env string) string {
	return "unknown environment " + Characters(env) + ": not development, staging or production"
}

// environmentMeant is the environment env abbreviates or spells in other
// case (prod, Staging, DEV), or "". Naming it repeats nothing that is not
// in the environment's own name.
func environmentMeant(env string) string {
	if len(env) < 3 {
		return ""
	}
	for _, e := range Environments {
		if strings.HasPrefix(e, strings.ToLower(env)) {
			return e
		}
	}
	return ""
}

// ValidateProjectName accepts 1-64 letters, digits, '.', '_' and '-',
// starting with a letter or digit.
func ValidateProjectName(name string) error {
	if isProjectName(name) {
		return nil
	}
	return newError(ErrInvalid, "project names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. OPENCLAW_MANAGER)",
		"%s", invalidProjectName(name))
}

// invalidProjectName is the message for name, which isProjectName refuses:
// its length and what is wrong with it, never the name itself.
func invalidProjectName(name string) string {
	fault := "it does not start with a letter or digit"
	switch {
	case name == "":
		fault = "it is empty"
	case len(name) > 64:
		fault = "it is longer than 64 bytes"
	case strings.ContainsFunc(name, func(r rune) bool {
		return r >= utf8.RuneSelf || !isASCIIAlnum(byte(r)) && r != '.' && r != '_' && r != '-'
	}):
		fault = "it holds characters other than letters, digits, '.', '_' and '-'"
	}
	return "invalid project name " + Characters(name) + ": " + fault
}

// Characters is "(N characters)", the length of an argument an error does
// not show (a value may be typed where a name goes).
func Characters(s string) string {
	if n := utf8.RuneCountInString(s); n != 1 {
		return fmt.Sprintf("(%d characters)", n)
	}
	return "(1 character)"
}

// MaxDescriptionLen bounds a project's description, in bytes.
const MaxDescriptionLen = 1024

// ValidateDescription accepts a project description of at most
// MaxDescriptionLen bytes of printable UTF-8 text (spaces included). A
// control character, a terminal escape or a bidirectional override would
// act on the terminal of whoever lists the projects.
func ValidateDescription(d string) error {
	if len(d) > MaxDescriptionLen {
		return newError(ErrInvalid, "shorten it", "description is %d bytes, more than %d", len(d), MaxDescriptionLen)
	}
	if !utf8.ValidString(d) || strings.ContainsFunc(d, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return newError(ErrInvalid, "use printable text on one line", "description holds a control or invisible character")
	}
	return nil
}

// ProjectNameFrom turns a folder name into a valid project name, or "".
func ProjectNameFrom(folder string) string {
	var b strings.Builder
	for _, r := range folder {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "._-")
	if len(s) > 64 {
		s = s[:64]
	}
	if ValidateProjectName(s) != nil {
		return ""
	}
	return s
}

// NormalizeDomain validates an allowlist or binding entry and returns it in
// canonical form (lower case, no trailing dot). Entries are host names with
// an optional leading "*." wildcard (see ValidateWildcardScope); schemes,
// paths, ports and user info are rejected. A rejected entry is not repeated,
// nor any part of it (a URL's user info or query may hold a credential, and
// a value may be typed where a domain goes): the error gives its length and
// what is wrong with it.
func NormalizeDomain(domain string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if d == "" {
		return "", newError(ErrInvalid, "give a host name such as api.stripe.com", "empty domain")
	}
	if fault := notHostOnly(d); fault != "" {
		return "", newError(ErrInvalid, "give the host name alone, without scheme, user info, path, port or query (e.g. api.stripe.com for https://api.stripe.com/v1)",
			"invalid domain %s: %s", Characters(domain), fault)
	}
	if fault := hostFault(d); fault != "" {
		hint := "domains are host names with an optional leading \"*.\" (e.g. api.stripe.com, *.example.com)"
		if strings.ContainsFunc(d, func(r rune) bool { return r >= utf8.RuneSelf }) {
			hint += "; write an internationalized name in its xn-- (punycode) form"
		}
		return "", newError(ErrInvalid, hint, "invalid domain %s: %s", Characters(domain), fault)
	}
	return d, nil
}

// notHostOnly says what d, lower case, holds besides a host name (a scheme,
// user info, a path, a query, a port, a space), or "".
func notHostOnly(d string) string {
	switch {
	case strings.Contains(d, "://"):
		return "it holds a scheme (://)"
	case strings.Contains(d, "@"):
		return "it holds user info (@)"
	case strings.Contains(d, "/"):
		return "it holds a path (/)"
	case strings.ContainsAny(d, "?#"):
		return "it holds a query or fragment (? or #)"
	case strings.Contains(d, ":"):
		return "it holds a port (:)"
	case strings.ContainsAny(d, " \t"):
		return "it holds a space or a tab"
	}
	return ""
}

// hostFault says why d, lower case, is not a host name with an optional
// leading "*.", or "".
func hostFault(d string) string {
	host := strings.TrimPrefix(d, "*.")
	switch {
	case len(d) > 253:
		return "it is longer than 253 bytes"
	case validHost(host):
		return ""
	case strings.Contains(host, "*"):
		return "it holds '*' other than a leading \"*.\""
	case strings.ContainsFunc(host, func(r rune) bool { return !isLowerAlnum(byte(r)) && r != '-' && r != '.' || r >= utf8.RuneSelf }):
		return "it holds characters other than letters, digits, '-' and '.'"
	}
	for _, l := range strings.Split(host, ".") {
		switch {
		case l == "":
			return "it holds an empty label (\"..\" or a leading \".\")"
		case len(l) > 63:
			return "a label is longer than 63 bytes"
		}
	}
	return "a label starts or ends with '-'"
}

// ValidateWildcardScope refuses a wildcard entry, as NormalizeDomain
// returns it, over a top-level domain or another public suffix (*.com,
// *.localhost, *.co.uk, *.github.io: names under which anyone may register
// their own): it would let a call reach every host under it. NormalizeDomain
// accepts such an entry, so that one stored before can still be removed;
// adding one to the allowlist is refused.
func ValidateWildcardScope(d string) error {
	if suffix, ok := strings.CutPrefix(d, "*."); ok && isPublicSuffix(suffix) {
		return newError(ErrInvalid, "a wildcard covers the subdomains of one domain, such as *.example.com; list the hosts you mean",
			"invalid domain %s: a wildcard over a top-level domain or other public suffix allows every host under it", Characters(d))
	}
	return nil
}

// isPublicSuffix reports whether domain is a public suffix of the Public
// Suffix List (an unlisted single label counts as one, as every top-level
// domain does).
func isPublicSuffix(domain string) bool {
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}

// isLabel matches ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$, a host name label.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	if h == "" {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !isLabel(l) {
			return false
		}
	}
	return true
}
