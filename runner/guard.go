package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// Allowlist is the workspace's list of domains a call may reach. An entry is
// an exact host ("api.stripe.com", "127.0.0.1") or a wildcard ("*.stripe.com",
// which matches subdomains but not the apex). An empty allowlist allows
// nothing.
type Allowlist []string

// Match reports whether host is allowed and whether it was named exactly
// (only an exact entry lets a call reach a loopback or private address).
// A wildcard matches domain names only, never an IP address.
func (a Allowlist) Match(host string) (allowed, exact bool) {
	_, allowed, exact = a.MatchEntry(host)
	return allowed, exact
}

// MatchEntry is Match that also names the entry that admitted host, as
// the list spells it, for the audit: the exact entry when there is one,
// else the most specific (longest) wildcard that matched; "" when host is
// not allowed. Which entry is named never changes the decision.
func (a Allowlist) MatchEntry(host string) (entry string, allowed, exact bool) {
	host = normalizeHost(host)
	_, ipErr := netip.ParseAddr(host)
	isIP := ipErr == nil
	best := -1 // length of the suffix of the wildcard named so far
	for _, listed := range a {
		norm := normalizeHost(listed)
		if suffix, ok := strings.CutPrefix(norm, "*."); ok {
			// Never exact: the host "*.example.com" is a name under the
			// wildcard, resolved like any other.
			if !isIP && strings.HasSuffix(host, "."+suffix) {
				allowed = true
				if len(suffix) > best {
					entry, best = listed, len(suffix)
				}
			}
		} else if norm == host {
			return listed, true, true
		}
	}
	return entry, allowed, false
}

// BindingAllows reports whether a secret bound to domains may be sent to
// host. A secret without bindings may go to any allowlisted host.
func BindingAllows(domains []string, host string) bool {
	if len(domains) == 0 {
		return true
	}
	ok, _ := Allowlist(domains).Match(host)
	return ok
}

// normalizeHost lowercases ASCII letters only: strings.ToLower would turn
// KELVIN SIGN into "k", matching an entry the resolver would not.
func normalizeHost(h string) string {
	h = strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// metadataHosts are cloud metadata endpoints, refused whatever the allowlist
// says: a credential or a response from them is never what a caller wants.
var metadataHosts = map[string]bool{
	"metadata.google.internal": true,
	"metadata.goog":            true,
	"metadata":                 true,
	"instance-data":            true,
}

var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("168.63.129.16"),   // Azure WireServer
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
}

// CheckHostName refuses metadata host names before any lookup, and IP
// literals that no allowlist entry can open (metadata, link-local,
// unspecified, multicast), so such a call is refused before a secret is
// read or a connection attempted. Loopback and private literals are left to
// the dialer, which knows whether the host was allowlisted exactly.
func CheckHostName(host string) error {
	h := normalizeHost(host)
	if metadataHosts[h] {
		return fmt.Errorf("%w: %q is a cloud metadata endpoint", ErrSSRF, host)
	}
	if addr, err := netip.ParseAddr(h); err == nil {
		return CheckAddr(addr, true)
	}
	return nil
}

// CheckAddr decides whether a connection to addr is allowed. Metadata and
// link-local addresses are always refused; loopback, private and other
// non-public addresses only when privateOK (the host was allowlisted by its
// exact name). An IPv6 address that carries an IPv4 address to a gateway or
// relay (see embeddedIPv4) must pass for each IPv4 address it may carry as
// well as for itself. The zone is ignored: it scopes an address, it does
// not change which one it is.
func CheckAddr(addr netip.Addr, privateOK bool) error {
	addr = addr.Unmap().WithZone("")
	for _, v4 := range embeddedIPv4(addr) {
		if err := CheckAddr(v4, privateOK); err != nil {
			return fmt.Errorf("%w (inside %s)", err, addr)
		}
	}
	for _, m := range metadataAddrs {
		if addr == m {
			return fmt.Errorf("%w: %s is a cloud metadata address", ErrSSRF, addr)
		}
	}
	switch {
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is link-local", ErrSSRF, addr)
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrSSRF, addr)
	case addr.IsLoopback(), addr.IsPrivate(), isSharedOrReserved(addr):
		if !privateOK {
			return fmt.Errorf("%w: %s is a loopback or private address and the host is not allowlisted by its exact name", ErrSSRF, addr)
		}
	}
	return nil
}

// IPv6 prefixes whose addresses carry an IPv4 address that a gateway or
// relay on the path may connect to.
var (
	// nat64Prefix is the well-known NAT64 prefix (RFC 6052), whose last 32
	// bits are the IPv4 address reached.
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	// localNAT64Prefix is the local-use NAT64 prefix (RFC 8215); where the
	// IPv4 address sits depends on the prefix the operator carved from it.
	localNAT64Prefix = netip.MustParsePrefix("64:ff9b:1::/48")
	// sixToFourPrefix is 6to4 (RFC 3056): bits 16-47 are the IPv4 address
	// of the site, which a relay tunnels to.
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	// teredoPrefix is Teredo (RFC 4380): bits 32-63 are the server's IPv4
	// address, the last 32 bits the client's, inverted; a relay sends to both.
	teredoPrefix = netip.MustParsePrefix("2001::/32")
	// ipv4CompatPrefix holds the deprecated IPv4-compatible addresses
	// ::a.b.c.d (RFC 4291), tunnelled to a.b.c.d; :: and ::1 are not among
	// them. (IPv4-mapped ::ffff:a.b.c.d is a.b.c.d itself: Unmap.)
	ipv4CompatPrefix = netip.MustParsePrefix("::/96")
	// siitPrefix holds the IPv4-translated addresses ::ffff:0:a.b.c.d
	// (RFC 2765), which a stateless translator sends to a.b.c.d.
	siitPrefix = netip.MustParsePrefix("::ffff:0:0:0/96")
)

// embeddedIPv4 lists the IPv4 addresses addr may carry, each of which
// CheckAddr applies its own rule to, so that 2002:a9fe:a9fe:: is refused as
// 169.254.169.254 is and 2002:808:808:: allowed as 8.8.8.8 is.
func embeddedIPv4(addr netip.Addr) []netip.Addr {
	if !addr.Is6() {
		return nil
	}
	b := addr.As16()
	switch {
	case nat64Prefix.Contains(addr):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
	case localNAT64Prefix.Contains(addr):
		return localNAT64IPv4(b)
	case sixToFourPrefix.Contains(addr):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[2:6]))}
	case teredoPrefix.Contains(addr):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return []netip.Addr{netip.AddrFrom4([4]byte(b[4:8])), netip.AddrFrom4(client)}
	case ipv4CompatPrefix.Contains(addr) && !addr.IsLoopback() && !addr.IsUnspecified(),
		siitPrefix.Contains(addr):
		return []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
	}
	return nil
}

// localNAT64IPv4 reads an address of the local-use NAT64 prefix in each
// layout RFC 6052 allows inside it (a /96, /64, /56 or /48 NAT64 prefix;
// bits 64-71 are never part of the IPv4 address), since the address does
// not tell which one the operator chose: each reading must pass, so no
// layout reaches what its IPv4 address could not. A reading no connection
// can reach is left out: one in 0.0.0.0/8, never routed (the zero padding
// of another layout), or in 224.0.0.0/4, multicast (the bytes of another
// layout's address, which would otherwise refuse it even when allowlisted
// exactly); unless every reading is, when the /96 one stands.
func localNAT64IPv4(b [16]byte) []netip.Addr {
	layouts := [][4]byte{
		{b[12], b[13], b[14], b[15]}, // /96
		{b[9], b[10], b[11], b[12]},  // /64
		{b[7], b[9], b[10], b[11]},   // /56
		{b[6], b[7], b[9], b[10]},    // /48
	}
	var out []netip.Addr
	for _, l := range layouts {
		if a := netip.AddrFrom4(l); l[0] != 0 && !a.IsMulticast() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []netip.Addr{netip.AddrFrom4(layouts[0])}
	}
	return out
}

var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"), // IPv6 site-local (RFC 3879): deprecated, not IsPrivate, still routed on some networks
}

func isSharedOrReserved(a netip.Addr) bool {
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type privateOKKey struct{}

// withPrivateOK marks a request context as allowed to reach non-public
// addresses; the dialer reads it when it connects.
func withPrivateOK(ctx context.Context, ok bool) context.Context {
	return context.WithValue(ctx, privateOKKey{}, ok)
}

// dialControl runs after name resolution, on the address actually dialled,
// so a name that resolves (or re-resolves) to a forbidden address is caught.
func dialControl(ctx context.Context, network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: bad address %q", ErrSSRF, address)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: bad address %q", ErrSSRF, address)
	}
	privateOK, _ := ctx.Value(privateOKKey{}).(bool)
	return CheckAddr(addr, privateOK)
}
