package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// stringTokens is every string of a JSON text, member names included,
// duplicates too: what a reader that keeps the first of two equal names
// (or reads the text itself) sees.
func stringTokens(t *testing.T, raw []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return b.String()
		}
		if s, ok := tok.(string); ok {
			b.WriteString(s + "\n")
		}
	}
}

// TestCallJSONDuplicateMemberRedacted: an echo in \uXXXX escapes (which
// only the decoded pass sees) under a member name that occurs twice is
// redacted too, though decoding into a map keeps the last of the two only.
func TestCallJSONDuplicateMemberRedacted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var esc strings.Builder
		for _, c := range strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") {
			fmt.Fprintf(&esc, `\u%04x`, c)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo":"%s","echo":"ok"}`, esc.String())
	}))
	defer api.Close()
	out := sb.mustRun("", "call", "--url", api.URL, "--bearer", "API_KEY", "--json")
	var res struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	noLeak(t, "every string of the body", stringTokens(t, res.Body), callSecret)
}
