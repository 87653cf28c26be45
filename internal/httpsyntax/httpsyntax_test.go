package httpsyntax

import (
	"bufio"
	"net/textproto"
	"strings"
	"testing"
)

func TestValidHeaderName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"X-Api-Key", true},
		{"x_custom.v2~!#$%&'*+^`|", true},
		{"", false},
		{"Bad Name", false},
		{"Bad:Name", false},
		{"Bad\r\nX-Injected", false},
		{"Ünïcode", false},
		{"a(b)", false},
		{strings.Repeat("a", MaxHeaderNameLen), true},
		{strings.Repeat("a", MaxHeaderNameLen+1), false},
	} {
		if got := ValidHeaderName(tc.name); got != tc.want {
			t.Errorf("ValidHeaderName(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if got := ValidHeaderName([]byte(tc.name)); got != tc.want {
			t.Errorf("ValidHeaderName([]byte(%q)) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidHeaderValue(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"", true},
		{"Bearer abc.def", true},
		{"tab\tinside", true},
		{"ünïcode bytes", true},
		{"split\r\nX-Injected: 1", false},
		{"lf\nonly", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"bell\a", false},
	} {
		if got := ValidHeaderValue(tc.value); got != tc.want {
			t.Errorf("ValidHeaderValue(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}

// FuzzHeaderLine checks that whatever passes both checks stays one header
// line: a line built from it parses back to the same name and value.
func FuzzHeaderLine(f *testing.F) {
	f.Add("X-Api-Key", "abc")
	f.Add("A", "b\r\nC: d")
	f.Fuzz(func(t *testing.T, name, value string) {
		if !ValidHeaderName(name) || !ValidHeaderValue(value) {
			return
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsFunc(value, func(r rune) bool { return r == '\r' || r == '\n' }) {
			t.Fatalf("value %q passed with a line break", value)
		}
		r := textproto.NewReader(bufioReader(name + ": " + value + "\r\n\r\n"))
		h, err := r.ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: %q does not parse back: %v", name, value, err)
		}
		if len(h) != 1 || h.Get(name) != value {
			t.Fatalf("%q: %q parsed back as %v", name, value, h)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func TestName(t *testing.T) {
	for _, n := range []string{"Content-Type", "X-As-Target-Url", "X-Custom-Thing", ""} {
		if got := Name([]byte(n)); got != n {
			t.Errorf("Name(%q) = %q", n, got)
		}
	}
	common := []byte("Content-Type")
	if allocs := testing.AllocsPerRun(100, func() { _ = Name(common) }); allocs != 0 {
		t.Errorf("a common name cost %v allocations", allocs)
	}
}
