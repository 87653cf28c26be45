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
	err := ValidateEnvironment("prod")
	var ve *Error
	if !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "development, staging, production") {
		t.Fatalf("ValidateEnvironment(prod) = %v, want a hint listing the environments", err)
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		hint     string
	}{
		{"api.stripe.com", "api.stripe.com", ""},
		{"API.Stripe.COM.", "api.stripe.com", ""},
		{"*.example.com", "*.example.com", ""},
		{"localhost", "localhost", ""},
		{"https://api.stripe.com/v1", "", `"api.stripe.com"`},
		{"api.stripe.com:443", "", `"api.stripe.com"`},
		{"user@host.com", "", `"host.com"`},
		{"a..b", "", ""},
		{"*", "", ""},
		{"ex*ample.com", "", ""},
		{"-bad.com", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if tt.hint != "" {
			var ve *Error
			if !errors.As(err, &ve) || !strings.Contains(ve.Hint(), tt.hint) {
				t.Errorf("NormalizeDomain(%q) hint = %v, want it to contain %s", tt.in, err, tt.hint)
			}
		}
	}
}

// TestNormalizeDomainHidesUserInfo: user info (or a query) given with a
// host may be a credential, which the error must not repeat.
func TestNormalizeDomainHidesUserInfo(t *testing.T) {
	tests := []struct {
		in, hint, notIn string
	}{
		{"user:sk_live_abc123@api.stripe.com", `"api.stripe.com"`, "sk_live_abc123"},
		{"https://bot:hunter2-pw@api.stripe.com/v1", `"api.stripe.com"`, "hunter2-pw"},
		{"https://api.stripe.com/v1?key=x@y", "", "key=x"},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		var ve *Error
		if err == nil || !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want an ErrInvalid error", tt.in, got, err)
			continue
		}
		if !strings.Contains(ve.Hint(), tt.hint) {
			t.Errorf("NormalizeDomain(%q) hint = %q, want it to contain %s", tt.in, ve.Hint(), tt.hint)
		}
		if tt.notIn != "" && (strings.Contains(err.Error(), tt.notIn) || strings.Contains(ve.Hint(), tt.notIn)) {
			t.Errorf("NormalizeDomain(%q) = %v (hint %q): repeats the user info", tt.in, err, ve.Hint())
		}
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
