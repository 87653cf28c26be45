package vault

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestValidateKeyName(t *testing.T) {
	tests := []struct {
		name  string
		ok    bool
		fault string
	}{
		{"STRIPE_KEY", true, ""},
		{"AWS_SECRET_KEY", true, ""},
		{"S3", true, ""},
		{"A1_B2", true, ""},
		{"stripe_key", false, "lower-case letters"},
		{"sk-live-4eC39HqLyjWDarjtT1zdp7dc", false, "lower-case letters"},
		{"Stripe-Key", false, "lower-case letters"},
		{"KEY NAME", false, "characters other than"},
		{"SK-LIVE-4EC39HQ", false, "characters other than"},
		{"_KEY", false, "start with a capital"},
		{"1KEY", false, "start with a capital"},
		{"KEY_", false, "ends with '_'"},
		{"A__B", false, "'__'"},
		{"", false, "empty"},
		{strings.Repeat("A", MaxKeyNameLen+1), false, "longer than"},
	}
	for _, tt := range tests {
		err := ValidateKeyName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateKeyName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateKeyName(%q) error %v is not ErrInvalid", tt.name, err)
		}
		var ve *Error
		if !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "UPPER_SNAKE_CASE") {
			t.Errorf("ValidateKeyName(%q): hint missing the naming rule: %v", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.fault) {
			t.Errorf("ValidateKeyName(%q) = %v, want it to say %q", tt.name, err, tt.fault)
		}
		// A value typed where a key name goes is not printed, in any case.
		if len(tt.name) >= 10 && (strings.Contains(strings.ToUpper(err.Error()), strings.ToUpper(tt.name)) || strings.Contains(ve.Hint(), tt.name)) {
			t.Errorf("ValidateKeyName(%q): error or hint repeats the name: %v (hint %q)", tt.name, err, ve.Hint())
		}
	}
}

// fixedKeyNameText holds every text ValidateKeyName's error and hint are
// made of, whatever the name: a name found in it is not an echo.
var fixedKeyNameText = func() string {
	var b strings.Builder
	b.WriteString("vault: invalid key name (0123456789 characters): " + keyNameHint)
	for _, name := range []string{"", strings.Repeat("A", MaxKeyNameLen+1), "a", "-", "_A", "A__B", "A_"} {
		b.WriteString("\n" + keyNameFault(name))
	}
	return b.String()
}()

func FuzzValidateKeyName(f *testing.F) {
	for _, s := range []string{"STRIPE_KEY", "a", "A__B", "_", "Z9_9", "\xff", "_KEY", "sk-live-0123456789"} {
		f.Add(s)
	}
	rule := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`) // the documented rule
	f.Fuzz(func(t *testing.T, name string) {
		if want := rule.MatchString(name) && len(name) <= MaxKeyNameLen; IsKeyName(name) != want {
			t.Fatalf("IsKeyName(%q) = %v, the rule says %v", name, !want, want)
		}
		err := ValidateKeyName(name)
		if err == nil {
			// Accepted names are shell- and env-safe.
			for i := 0; i < len(name); i++ {
				c := name[i]
				if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
					t.Fatalf("accepted %q with byte %q", name, c)
				}
			}
			if name[0] < 'A' || name[0] > 'Z' || strings.HasSuffix(name, "_") || strings.Contains(name, "__") {
				t.Fatalf("accepted malformed %q", name)
			}
			return
		}
		var ve *Error
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not *Error", err)
		}
		// The name reaches the error only as its length and its fault: the
		// text is the same for another name of that length and fault.
		if text := err.Error() + ve.Hint(); len(name) > 3 && strings.Contains(text, name) && !strings.Contains(fixedKeyNameText, name) {
			t.Fatalf("error for %q repeats it: %v", name, err)
		}
	})
}

func TestValidateEnvironment(t *testing.T) {
	for _, env := range Environments {
		if err := ValidateEnvironment(env); err != nil {
			t.Errorf("%s: %v", env, err)
		}
	}
	tests := []struct {
		env, msg, hint string
	}{
		{"prod", "unknown environment (4 characters)", "did you mean production?"},
		{"Staging", "unknown environment (7 characters)", "did you mean staging?"},
		{"DEV", "unknown environment (3 characters)", "did you mean development?"},
		{"qa", "unknown environment (2 characters)", "environments are development, staging, production"},
		{"", "unknown environment (0 characters)", "environments are development, staging, production"},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "unknown environment (32 characters)", "environments are development, staging, production"},
		{"productionsk_live_4eC39Hq", "unknown environment (25 characters)", "environments are development, staging, production"},
	}
	for _, tt := range tests {
		err := ValidateEnvironment(tt.env)
		var ve *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) {
			t.Errorf("ValidateEnvironment(%q) = %v, want an ErrInvalid *Error", tt.env, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(ve.Hint(), tt.hint) {
			t.Errorf("ValidateEnvironment(%q) = %v (hint %q), want %q (hint %q)", tt.env, err, ve.Hint(), tt.msg, tt.hint)
		}
		// A value typed where an environment goes is not printed: found in
		// the text, it is part of an environment's name.
		if text := err.Error() + ve.Hint(); len(tt.env) >= 4 && strings.Contains(text, tt.env) && !strings.Contains(strings.Join(Environments, " "), tt.env) {
			t.Errorf("ValidateEnvironment(%q) repeats it: %v (hint %q)", tt.env, err, ve.Hint())
		}
	}
}

func TestValidateProjectName(t *testing.T) {
	tests := []struct {
		name  string
		ok    bool
		fault string
	}{
		{"app", true, ""},
		{"OPENCLAW_MANAGER", true, ""},
		{"api.v2-x_y", true, ""},
		{strings.Repeat("a", 64), true, ""},
		{"", false, "(0 characters): it is empty"},
		{strings.Repeat("a", 65), false, "(65 characters): it is longer than 64 bytes"},
		{"has space", false, "(9 characters): it holds characters other than letters, digits, '.', '_' and '-'"},
		{"../x", false, "(4 characters): it holds characters other than"},
		{"sk live 4eC39HqLyjWDarjtT1zdp7dc", false, "(32 characters): it holds characters other than"},
		{"ünï", false, "(3 characters): it holds characters other than"},
		{"-app", false, "(4 characters): it does not start with a letter or digit"},
		{".hidden", false, "(7 characters): it does not start with a letter or digit"},
	}
	for _, tt := range tests {
		err := ValidateProjectName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateProjectName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err == nil {
			continue
		}
		var ve *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "project names are") {
			t.Errorf("ValidateProjectName(%q) = %v, want an ErrInvalid error with the naming rule as hint", tt.name, err)
		}
		if want := "invalid project name " + tt.fault; !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateProjectName(%q) = %v, want %q", tt.name, err, want)
		}
		if len(tt.name) >= 4 && (strings.Contains(err.Error(), tt.name) || strings.Contains(ve.Hint(), tt.name)) {
			t.Errorf("ValidateProjectName(%q) repeats it: %v (hint %q)", tt.name, err, ve.Hint())
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		msg      string // in the error
		hint     string // in the hint
	}{
		{"api.stripe.com", "api.stripe.com", "", ""},
		{"API.Stripe.COM.", "api.stripe.com", "", ""},
		{"*.example.com", "*.example.com", "", ""},
		{"localhost", "localhost", "", ""},
		{"https://api.example.org/v1", "", "invalid domain (26 characters): it holds a scheme (://)", "host name alone"},
		{"api.example.org/v1", "", "invalid domain (18 characters): it holds a path (/)", "host name alone"},
		{"api.example.org:443", "", "invalid domain (19 characters): it holds a port (:)", "host name alone"},
		{"user@host.com", "", "invalid domain (13 characters): it holds user info (@)", "host name alone"},
		{"host.com?x=1", "", "invalid domain (12 characters): it holds a query or fragment (? or #)", "host name alone"},
		{"ex ample.com", "", "invalid domain (12 characters): it holds a space", "host name alone"},
		{"a..b", "", "invalid domain (4 characters): it holds an empty label", "*.example.com"},
		{".a.b", "", "it holds an empty label", ""},
		{"*", "", "invalid domain (1 character): it holds '*' other than a leading \"*.\"", ""},
		{"ex*ample.com", "", "it holds '*' other than a leading \"*.\"", ""},
		{"*.*.com", "", "it holds '*' other than a leading \"*.\"", ""},
		{"-bad.com", "", "a label starts or ends with '-'", ""},
		{"bad-.com", "", "a label starts or ends with '-'", ""},
		{"sk_live_4ec39hqlyjwdarjtt1zdp7dc", "", "invalid domain (32 characters): it holds characters other than letters, digits, '-' and '.'", ""},
		{"bücher.de", "", "invalid domain (9 characters): it holds characters other than letters, digits, '-' and '.'", "xn--"},
		{strings.Repeat("a", 64) + ".com", "", "a label is longer than 63 bytes", ""},
		{strings.Repeat("abcdefgh.", 30) + "com", "", "it is longer than 253 bytes", ""},
		{"", "", "empty domain", "api.stripe.com"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if err == nil {
			continue
		}
		var ve *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) {
			t.Errorf("NormalizeDomain(%q) = %v, want an ErrInvalid *Error", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(ve.Hint(), tt.hint) {
			t.Errorf("NormalizeDomain(%q) = %v (hint %q), want %q (hint %q)", tt.in, err, ve.Hint(), tt.msg, tt.hint)
		}
		// A refused entry is not repeated, nor is its host.
		host := hostPart(strings.ToLower(tt.in))
		if len(tt.in) >= 4 && (strings.Contains(strings.ToLower(err.Error()+ve.Hint()), strings.ToLower(tt.in)) ||
			len(host) >= 4 && strings.Contains(strings.ToLower(err.Error()+ve.Hint()), host)) {
			t.Errorf("NormalizeDomain(%q) repeats it: %v (hint %q)", tt.in, err, ve.Hint())
		}
	}
}

// hostPart is the host a URL-like entry names.
func hostPart(s string) string {
	if _, after, ok := strings.Cut(s, "://"); ok {
		s = after
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[:i]
	}
	return s
}

// TestNormalizeDomainHidesUserInfo: an entry given with user info, a
// path or a query may hold a credential: neither the error nor its hint
// repeats any of it.
func TestNormalizeDomainHidesUserInfo(t *testing.T) {
	for _, tt := range []struct{ in, notIn string }{
		{"user:sk_live_abc123@api.stripe.com", "sk_live_abc123"},
		{"https://bot:hunter2-pw@api.stripe.com/v1", "hunter2-pw"},
		{"https://api.stripe.com/v1?key=x@y", "key=x"},
		{"deadbeefcafe0123456789:x", "deadbeefcafe"},
		{"https://sk-live-4ec39hqlyjwdarjtt1zdp7dc/", "sk-live"},
	} {
		got, err := NormalizeDomain(tt.in)
		var ve *Error
		if err == nil || !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want an ErrInvalid error", tt.in, got, err)
			continue
		}
		if strings.Contains(err.Error(), tt.notIn) || strings.Contains(ve.Hint(), tt.notIn) {
			t.Errorf("NormalizeDomain(%q) = %v (hint %q): repeats what was typed", tt.in, err, ve.Hint())
		}
	}
}

// TestValidateWildcardScopeDoesNotRepeatTheEntry: a wildcard over a
// single label is refused as a public suffix; the label may be a value
// typed by mistake, and is not repeated.
func TestValidateWildcardScopeDoesNotRepeatTheEntry(t *testing.T) {
	for _, tt := range []struct{ in, msg string }{
		{"*.com", "invalid domain (5 characters): a wildcard over a top-level domain or other public suffix"},
		{"*.co.uk", "invalid domain (7 characters): a wildcard over"},
		{"*.sk-live-4ec39hqlyjwdarjtt1zdp7dc", "invalid domain (34 characters): a wildcard over"},
	} {
		err := ValidateWildcardScope(tt.in)
		var ve *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "*.example.com") {
			t.Errorf("ValidateWildcardScope(%q) = %v, want an ErrInvalid error with a hint", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ValidateWildcardScope(%q) = %v, want %q", tt.in, err, tt.msg)
		}
		if label := strings.TrimPrefix(tt.in, "*."); len(label) >= 4 && strings.Contains(err.Error()+ve.Hint(), label) {
			t.Errorf("ValidateWildcardScope(%q) repeats it: %v (hint %q)", tt.in, err, ve.Hint())
		}
	}
	if err := ValidateWildcardScope("*.example.com"); err != nil {
		t.Errorf("ValidateWildcardScope(*.example.com) = %v", err)
	}
}

func TestProjectNameFrom(t *testing.T) {
	tests := map[string]string{"my app": "my-app", "api_v2": "api_v2", ".hidden": "hidden", "...": "", "ünï": "n"}
	for in, want := range tests {
		if got := ProjectNameFrom(in); got != want {
			t.Errorf("ProjectNameFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateDescription(t *testing.T) {
	for d, ok := range map[string]bool{
		"":                                       true,
		"Stripe and OpenAI keys for prod":        true,
		"café — naïve, 日本語":                      true,
		strings.Repeat("a", MaxDescriptionLen):   true,
		strings.Repeat("a", MaxDescriptionLen+1): false,
		"two\nlines":                             false,
		"tab\there":                              false,
		"\x1b[2Jcleared":                         false,
		"evil\u202etxt.exe":                      false,
		"zero\u200bwidth":                        false,
		"bad \xff utf-8":                         false,
	} {
		err := ValidateDescription(d)
		if (err == nil) != ok {
			t.Errorf("ValidateDescription(%.40q) = %v, want ok %v", d, err, ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateDescription(%.40q) = %v, want ErrInvalid", d, err)
		}
	}
}

// refusedText is the text of a refusal by check without its "(N
// characters)": what is left depends only on what is wrong.
func refusedText(err error) string {
	var ve *Error
	if !errors.As(err, &ve) {
		return err.Error()
	}
	return lengthRe.ReplaceAllString(err.Error()+"\n"+ve.Hint(), "")
}

var lengthRe = regexp.MustCompile(`\(\d+ characters?\)`)

// refusalChecks are the checks whose refusals FuzzRefusedInputNotRepeated
// holds to their fixed text, with inputs that reach each of their faults.
var refusalChecks = []struct {
	name   string
	check  func(string) error
	faults []string
}{
	{"ValidateEnvironment", ValidateEnvironment, []string{"", "qa", "dev", "stag", "prod"}},
	{"ValidateProjectName", ValidateProjectName, []string{"", strings.Repeat("a", 65), "a b", "-a"}},
	{"NormalizeDomain", func(s string) error { _, err := NormalizeDomain(s); return err },
		[]string{"", "a://b", "a@b", "a/b", "a?b", "a:1", "a b", strings.Repeat("a.", 127) + "aa", "a*", "a_b", "é", "a..b", strings.Repeat("a", 64), "-a"}},
	{"ValidateWildcardScope", ValidateWildcardScope, []string{"*.com"}},
}

// FuzzRefusedInputNotRepeated: an environment, project name or domain
// that is refused reaches the error and its hint only as its length and
// its fault; a string found there is part of the fixed text.
func FuzzRefusedInputNotRepeated(f *testing.F) {
	var fixed strings.Builder
	for _, c := range refusalChecks {
		for _, s := range c.faults {
			if err := c.check(s); err != nil {
				fixed.WriteString(refusedText(err) + "\n")
			}
		}
	}
	for _, s := range []string{"prod", "sk_live_4eC39Hq", "https://u:pw@api.example.org/v1", "*.sk-live-abc", "has space", "ex*ample.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range refusalChecks {
			err := c.check(s)
			if err == nil {
				continue
			}
			if text := refusedText(err); len(s) > 3 && strings.Contains(text, s) && !strings.Contains(fixed.String(), s) {
				t.Fatalf("%s(%q) repeats it: %s", c.name, s, text)
			}
		}
	})
}
