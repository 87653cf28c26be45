package httpsyntax

import (
	"bufio"
	"iter"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
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

func TestHeader(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
		want  http.Header
	}{
		{"none", nil, http.Header{}},
		{"one", [][2]string{{"Content-Type", "text/plain"}},
			http.Header{"Content-Type": {"text/plain"}}},
		{"repeated names keep order", [][2]string{{"Set-Cookie", "a=1"}, {"X-Other", ""}, {"Set-Cookie", "b=2"}, {"Set-Cookie", "c=3"}},
			http.Header{"Set-Cookie": {"a=1", "b=2", "c=3"}, "X-Other": {""}}},
		{"three names", [][2]string{{"A", "1"}, {"B", "2"}, {"C", "3"}},
			http.Header{"A": {"1"}, "B": {"2"}, "C": {"3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Header(pairsSeq(tt.pairs))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Header = %v, want %v", got, tt.want)
			}
			// Values of different names share backing arrays: adding
			// to one must not change another.
			for name := range got {
				got[name] = append(got[name], "added")
			}
			for name, values := range got {
				if want := append(slices.Clone(tt.want[name]), "added"); !slices.Equal(values, want) {
					t.Errorf("after appending: %s = %q, want %q", name, values, want)
				}
			}
		})
	}
}

func pairsSeq(pairs [][2]string) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, p := range pairs {
			if !yield([]byte(p[0]), []byte(p[1])) {
				return
			}
		}
	}
}

func TestFramingHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Host": true, "HOST": true, "content-length": true, "Transfer-Encoding": true,
		"Trailer": true, "connection": true, "Keep-Alive": true, "Proxy-Connection": true,
		"TE": true, "Upgrade": true,
		"Authorization": false, "X-Host": false, "Hosts": false, "T": false, "": false, "Cookie": false,
	} {
		if got := FramingHeader(name); got != want {
			t.Errorf("FramingHeader(%q) = %v, want %v", name, got, want)
		}
		if got := FramingHeader([]byte(name)); got != want {
			t.Errorf("FramingHeader([]byte(%q)) = %v, want %v", name, got, want)
		}
	}
}

func TestTransportHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Host": true, "content-length": true, "TRANSFER-ENCODING": true, "Trailer": true,
		"Connection": false, "Upgrade": false, "Cookie": false, "X-Host": false,
	} {
		if got := TransportHeader(name); got != want {
			t.Errorf("TransportHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
