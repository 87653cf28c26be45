package hostfns

import "net/url"

// escapeComponent encodes a query or form component (spaces as '+').
func escapeComponent(s string) string { return url.QueryEscape(s) }

func unescapeComponent(s string) (string, error) { return url.QueryUnescape(s) }
