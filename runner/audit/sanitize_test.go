package audit

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func mustParseURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// valueForms are the encodings of a value that must never be stored.
func valueForms(v string) map[string]string {
	return map[string]string{
		"raw":    v,
		"url":    url.QueryEscape(v),
		"base64": base64.StdEncoding.EncodeToString([]byte(v)),
		"hex":    hex.EncodeToString([]byte(v)),
	}
}

func TestSanitizeURL(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		params map[string]string
		want   string
	}{
		{"no params", "https://api.example.com/v1/x", nil, "https://api.example.com/v1/x"},
		{"injected param", "https://maps.example.com/geo?address=Paris&key=AIzaSECRET", map[string]string{"key": "GOOGLE_MAPS_KEY"}, "https://maps.example.com/geo?address=Paris&key={GOOGLE_MAPS_KEY}"},
		{"case kept, exact match", "https://x.test/?api_key=S1&API_KEY=public", map[string]string{"api_key": "K"}, "https://x.test/?api_key={K}&API_KEY=public"},
		{"every occurrence", "https://x.test/?t=S1&a=1&t=S2", map[string]string{"t": "TOKEN_KEY"}, "https://x.test/?t={TOKEN_KEY}&a=1&t={TOKEN_KEY}"},
		{"escaped name", "https://x.test/?client%5Fsecret=S&b=2", map[string]string{"client_secret": "CS"}, "https://x.test/?client_secret={CS}&b=2"},
		{"semicolon separator", "https://x.test/?a=1;key=S", map[string]string{"key": "K"}, "https://x.test/?a=1;key={K}"},
		{"name without value", "https://x.test/?key&a=1", map[string]string{"key": "K"}, "https://x.test/?key={K}&a=1"},
		{"appended when absent", "https://x.test/p?a=1", map[string]string{"z": "Z_KEY", "b": "B_KEY"}, "https://x.test/p?a=1&b={B_KEY}&z={Z_KEY}"},
		{"appended to empty query", "https://x.test/p", map[string]string{"key": "K"}, "https://x.test/p?key={K}"},
		{"userinfo dropped", "https://bob:hunter2@x.test/p?a=1", nil, "https://x.test/p?a=1"},
		{"fragment dropped", "https://x.test/cb#access_token=S", nil, "https://x.test/cb"},
		{"other params untouched", "https://x.test/?q=a%20b&page=2", map[string]string{"key": "K"}, "https://x.test/?q=a%20b&page=2&key={K}"},
		{"trailing separator", "https://x.test/?key=S&", map[string]string{"key": "K"}, "https://x.test/?key={K}&"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SanitizeURL(mustParseURL(t, tt.raw), tt.params)
			if got != tt.want {
				t.Errorf("SanitizeURL(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
	if got := SanitizeURL(nil, nil); got != "" {
		t.Errorf("nil URL gives %q", got)
	}
}

func TestSanitizeURLLeavesInputAlone(t *testing.T) {
	u := mustParseURL(t, "https://u:p@x.test/?key=S#f")
	before := u.String()
	SanitizeURL(u, map[string]string{"key": "K"})
	if u.String() != before {
		t.Errorf("input changed to %q", u.String())
	}
}

func FuzzSanitizeURL(f *testing.F) {
	f.Add("https://api.example.com/v1?a=1", "key", "AIzaSy-secret")
	f.Add("http://u:p@h/?x=1;y=2#frag", "x", "v;w")
	f.Add("/relative?k", "k", "&=;")
	f.Add("https://h/?%zz=1", "%zz", "v")
	const marker = "Q7MARKERZ"
	f.Fuzz(func(t *testing.T, raw, param, value string) {
		u, err := url.Parse(raw)
		if err != nil || param == "" || strings.Contains(raw, marker) || strings.Contains(param, marker) {
			return
		}
		injected := url.QueryEscape(param) + "=" + url.QueryEscape(marker+value)
		if u.RawQuery == "" {
			u.RawQuery = injected
		} else {
			u.RawQuery += "&" + injected
		}
		out := SanitizeURL(u, map[string]string{param: "THE_KEY"})
		if strings.Contains(out, marker) {
			t.Fatalf("value survived: %q", out)
		}
		if !strings.Contains(out, "={THE_KEY}") {
			t.Fatalf("key name missing: %q", out)
		}
		if parsed, err := url.Parse(out); err == nil && parsed.User != nil {
			t.Fatalf("userinfo kept: %q", out)
		}
	})
}

func ExampleSanitizeURL() {
	u, _ := url.Parse("https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key=AIzaSy")
	fmt.Println(SanitizeURL(u, map[string]string{"key": "GOOGLE_MAPS_KEY"}))
	// Output: https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key={GOOGLE_MAPS_KEY}
}
