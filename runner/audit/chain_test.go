package audit

import (
	"encoding/json"
	"testing"
	"time"
)

// TestChainHashKnownValues pins the chain encoding: the hashes were
// computed by the first implementation (sha256.New, hex.DecodeString of
// prev, a fresh canonical buffer per row), so rows written by any version
// keep verifying.
func TestChainHashKnownValues(t *testing.T) {
	e := Event{Time: time.Unix(1700000000, 123456789), Source: "proxy", Agent: "token:ab12",
		Workspace: "acme", Project: "billing", Environment: "production", Method: "POST",
		URL:  "https://api.stripe.com/v1/charges?amount=[REDACTED]",
		Keys: []string{"STRIPE_KEY", "ü<&>\""}, AuthStyles: []string{"bearer", "query"},
		Status: 402, Duration: 1234567 * time.Nanosecond, Decision: "ok", Redactions: 3}
	tests := []struct {
		name, prev, want string
	}{
		{"genesis", genesisHash, "01cd97ce09841e0f212132b161872e4415dd59e2155b79e632bea791537db36c"},
		{"mixed case hex", "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789",
			"364abee4bbe9fc5c2b34ff3abe8c41e4d1706a9fbfaa48096b2e9f8a7376d9da"},
		{"short text", "abc", "bf06ce5f44a568aaa9b25294cbf4a9b503d6c2940a793ead90ab15acb1091b6f"},
		{"64 chars not hex", "zz00000000000000000000000000000000000000000000000000000000000000",
			"62d4644b342f5a0d7793761e3c5b3cd6461b6e3bcc8af4ac3a87d7f13d0313d4"},
		{"empty", "", "9928155c5b3eda1d70670d8bbb23803e0ce1f5b3d2741b6765b052d6760f7c44"},
	}
	var h chainHasher // reused across rows, as an append does
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chainHash(tt.prev, 42, e); got != tt.want {
				t.Errorf("chainHash = %s, want %s", got, tt.want)
			}
			if got := h.hash(tt.prev, 42, &e); got != tt.want {
				t.Errorf("reused chainHasher = %s, want %s", got, tt.want)
			}
		})
	}
	zero := Event{Time: time.Unix(0, 0)}
	if got, want := h.hash(genesisHash, 1, &zero), "8e533a3f153c92dba94d659630a31df6946cd7ab95b796ede2d4b775052ede14"; got != want {
		t.Errorf("empty event = %s, want %s", got, want)
	}
}

// TestEncodeNamesMatchesJSON checks that the names column is written
// exactly as encoding/json writes the list.
func TestEncodeNamesMatchesJSON(t *testing.T) {
	tests := [][]string{
		{"STRIPE_KEY"},
		{"bearer", "query"},
		{"a\"b", "c\\d"},
		{"<script>&", "ü", "\x7f", "\t"},
		{"\xff", ""},
		{"x", "\u2028"},
	}
	var sc appendScratch
	for _, names := range tests {
		checkEncodeNames(t, &sc, names)
	}
	if got := sc.encodeNames(nil); got != "[]" {
		t.Errorf("encodeNames(nil) = %s, want []", got)
	}
}

func FuzzEncodeNames(f *testing.F) {
	f.Add("STRIPE_KEY", "bearer")
	f.Add("a\"<", "\xff\u2028")
	var sc appendScratch
	f.Fuzz(func(t *testing.T, a, b string) {
		checkEncodeNames(t, &sc, []string{a, b})
		checkEncodeNames(t, &sc, []string{b})
	})
}

func checkEncodeNames(t *testing.T, sc *appendScratch, names []string) {
	t.Helper()
	want, err := json.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.encodeNames(names); got != string(want) {
		t.Errorf("encodeNames(%q) = %s, want %s", names, got, want)
	}
}
