package audit

import (
	"net/url"
	"slices"
	"strings"
)

// SanitizeURL renders u for the audit log. credentialParams maps each query
// parameter whose value was injected to the key name it came from; every
// occurrence of such a parameter shows the key name in braces instead of its
// value (?key={GOOGLE_MAPS_KEY}), and one that u does not carry yet is
// appended, so the row says where each key went whether u was taken before
// or after injection. Parameter names match exactly, case kept. User
// information and the fragment are dropped; everything else is kept as
// written, in order.
func SanitizeURL(u *url.URL, credentialParams map[string]string) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	c.ForceQuery = false
	c.RawQuery = sanitizeQuery(u.RawQuery, credentialParams)
	if c.Host == "" && strings.HasPrefix(c.EscapedPath(), "//") {
		// Without a host, a path "//x@y" would read back as an authority
		// with user "x": "/." keeps the same path, unambiguous.
		c.Path, c.RawPath = "/."+c.Path, ""
	}
	return c.String()
}

// sanitizeQuery rewrites a raw query. Both '&' and ';' count as separators,
// so a value cannot hide behind a separator some servers honour.
func sanitizeQuery(raw string, credentialParams map[string]string) string {
	var b strings.Builder
	seen := make(map[string]bool, len(credentialParams))
	for len(raw) > 0 {
		part, sep, rest := cutAny(raw, "&;")
		raw = rest
		name, _, _ := strings.Cut(part, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if key, ok := credentialParams[name]; ok {
			seen[name] = true
			part = placeholder(name, key)
		}
		b.WriteString(part)
		b.WriteString(sep)
	}
	for _, name := range missingParams(credentialParams, seen) {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "&") {
			b.WriteByte('&')
		}
		b.WriteString(placeholder(name, credentialParams[name]))
	}
	return b.String()
}

func cutAny(s, seps string) (before, sep, after string) {
	i := strings.IndexAny(s, seps)
	if i < 0 {
		return s, "", ""
	}
	return s[:i], s[i : i+1], s[i+1:]
}

func placeholder(param, key string) string {
	return url.QueryEscape(param) + "={" + url.QueryEscape(key) + "}"
}

func missingParams(credentialParams map[string]string, seen map[string]bool) []string {
	var names []string
	for name := range credentialParams {
		if !seen[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
