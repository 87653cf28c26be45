package openclaw

import (
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		errText string
	}{
		{in: "OPENAI_KEY", want: ID{Key: "OPENAI_KEY"}},
		{in: "production/STRIPE_KEY", want: ID{Environment: "production", Key: "STRIPE_KEY"}},
		{in: "my-app.v2/staging/DB_URL", want: ID{Project: "my-app.v2", Environment: "staging", Key: "DB_URL"}},
		{in: "A1", want: ID{Key: "A1"}},

		{in: "", errText: "empty id"},
		{in: strings.Repeat("A", MaxIDLen+1), errText: "longer than 256"},
		{in: "/OPENAI_KEY", errText: "must start with a letter or digit"},
		{in: "_KEY", errText: "must start with a letter or digit"},
		{in: "OPENAI KEY", errText: "character outside"},
		{in: "OPENAI_KEY\n", errText: "character outside"},
		{in: "production/Ключ", errText: "character outside"},
		{in: "openai_key", errText: `invalid key name "openai_key"`},
		{in: "prod/OPENAI_KEY", errText: `unknown environment "prod"`},
		{in: "production/", errText: `invalid key name ""`},
		{in: "app//OPENAI_KEY", errText: `unknown environment ""`},
		{in: "app/production/", errText: `invalid key name ""`},
		{in: "a/b/c/d", errText: "has 4 parts"},
		{in: "a..:x/production/A_KEY", errText: `invalid project name "a..:x"`},
		{in: "app:1/production/A_KEY", errText: `invalid project name "app:1"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseID(tt.in)
			if tt.errText == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				if got.String() != tt.in {
					t.Fatalf("String() = %q, want %q", got.String(), tt.in)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errText) || !strings.HasPrefix(err.Error(), "openclaw: ") {
				t.Fatalf("error %v, want one containing %q", err, tt.errText)
			}
		})
	}
}

// Every id ParseID accepts matches OpenClaw's exec id pattern.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"A_KEY", "production/A_KEY", "app/staging/A_KEY", "a/b/c/d", "", "x:y", "-A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if checkOpenClawID(s) != nil || id.Key == "" || id.String() != s {
			t.Fatalf("accepted %q as %+v", s, id)
		}
	})
}
