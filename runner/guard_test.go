package runner

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestAllowlistMatch(t *testing.T) {
	list := Allowlist{"api.stripe.com", "*.example.com", "127.0.0.1", "LOCALHOST", "kube.internal"}
	tests := []struct {
		host           string
		allowed, exact bool
	}{
		{"api.stripe.com", true, true},
		{"API.Stripe.com.", true, true},
		{"stripe.com", false, false},
		{"evil-api.stripe.com", false, false},
		{"a.example.com", true, false},
		{"a.b.example.com", true, false},
		{"example.com", false, false},
		{"notexample.com", false, false},
		{"127.0.0.1", true, true},
		{"localhost", true, true},
		{"[::1]", false, false},
		{"*.example.com", true, false},       // a literal "*" label is a name under the wildcard, not the entry itself
		{"\u212Aube.internal", false, false}, // KELVIN SIGN lowercases to "k" but is another DNS name
	}
	for _, tt := range tests {
		allowed, exact := list.Match(tt.host)
		if allowed != tt.allowed || exact != tt.exact {
			t.Errorf("Match(%q) = %v, %v; want %v, %v", tt.host, allowed, exact, tt.allowed, tt.exact)
		}
	}
	if ok, _ := (Allowlist{}).Match("api.stripe.com"); ok {
		t.Error("an empty allowlist must allow nothing")
	}
}

func TestBindingAllows(t *testing.T) {
	if !BindingAllows(nil, "any.host") {
		t.Error("unbound secret refused")
	}
	if !BindingAllows([]string{"api.stripe.com"}, "api.stripe.com") {
		t.Error("bound host refused")
	}
	if BindingAllows([]string{"api.stripe.com"}, "api.github.com") {
		t.Error("secret sent to a host it is not bound to")
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr      string
		privateOK bool
		refused   bool
	}{
		{"169.254.169.254", true, true},
		{"169.254.1.1", true, true},
		{"fe80::1", true, true},
		{"fd00:ec2::254", true, true},
		{"100.100.100.200", true, true},
		{"168.63.129.16", true, true},
		{"::ffff:169.254.169.254", true, true},
		{"0.0.0.0", true, true},
		{"127.0.0.1", false, true},
		{"127.0.0.1", true, false},
		{"10.1.2.3", false, true},
		{"192.168.1.1", true, false},
		{"::1", false, true},
		{"100.64.0.1", false, true},
		{"93.184.216.34", false, false},
		{"2606:4700::1", false, false},
		{"64:ff9b::a9fe:a9fe", true, true}, // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", false, true},   // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", false, true},    // NAT64 of 10.0.0.1
		{"64:ff9b::a00:1", true, false},
		{"64:ff9b::5db8:d822", false, false}, // NAT64 of a public address
		{"::ffff:127.0.0.1", false, true},    // IPv4-mapped: Unmap makes it 127.0.0.1
		{"::ffff:127.0.0.1", true, false},
		{"::ffff:a83f:8110", true, true},         // IPv4-mapped Azure WireServer
		{"64:ff9b::a9fe:a9fe%eth0", true, true},  // a zone does not hide the NAT64 prefix
		{"fd00:ec2::254%eth0", true, true},       // nor a metadata address
		{"64:ff9b:1::a9fe:a9fe", true, true},     // local-use NAT64 /96 of 169.254.169.254
		{"64:ff9b:1::a83f:8110", true, true},     // local-use NAT64 /96 of 168.63.129.16
		{"64:ff9b:1::7f00:1", false, true},       // local-use NAT64 /96 of 127.0.0.1
		{"64:ff9b:1::7f00:1", true, false},       // exact allowlist entry
		{"64:ff9b:1::808:808", false, false},     // local-use NAT64 /96 of 8.8.8.8
		{"64:ff9b:1:a9fe:a9:fe00::", true, true}, // local-use NAT64 /48 of 169.254.169.254
		{"64:ff9b:1:a00:0:100::", false, true},   // local-use NAT64 /48 of 10.0.0.1
		{"64:ff9b:1:a00:0:100::", true, false},
		{"64:ff9b:1:808:8:800::", false, false},                // local-use NAT64 /48 of 8.8.8.8
		{"64:ff9b:1:0:a9:fea9:fe00:0", true, true},             // local-use NAT64 /64 of 169.254.169.254
		{"64:ff9b:1:0:7f:0:100:0", false, true},                // local-use NAT64 /64 of 127.0.0.1
		{"64:ff9b:1:0:8:808:800:0", false, false},              // local-use NAT64 /64 of 8.8.8.8
		{"2002:a9fe:a9fe::", true, true},                       // 6to4 of 169.254.169.254
		{"2002:a9fe:a9fe:1::1", true, true},                    // any host in that 6to4 site
		{"2002:a83f:8110::", true, true},                       // 6to4 of 168.63.129.16
		{"2002:a9fe:a9fe::%eth0", true, true},                  // a zone does not hide 6to4
		{"2002:7f00:1::", false, true},                         // 6to4 of 127.0.0.1
		{"2002:7f00:1::", true, false},                         // exact allowlist entry
		{"2002:a00:1::", false, true},                          // 6to4 of 10.0.0.1
		{"2002:808:808::", false, false},                       // 6to4 of 8.8.8.8
		{"::a9fe:a9fe", true, true},                            // IPv4-compatible 169.254.169.254
		{"::7f00:1", false, true},                              // IPv4-compatible 127.0.0.1
		{"::7f00:1", true, false},                              // exact allowlist entry
		{"::808:808", false, false},                            // IPv4-compatible 8.8.8.8
		{"::1", true, false},                                   // loopback, not IPv4-compatible
		{"::", true, true},                                     // unspecified, not IPv4-compatible
		{"64:ff9b:1::", true, true},                            // every local-use reading is 0.0.0.0
		{"64:ff9b:1::1", false, true},                          // 0.0.0.1, reserved
		{"2001:0:4136:e378:8000:63bf:5601:5601", true, true},   // Teredo client 169.254.169.254
		{"2001:0:4136:e378:8000:63bf:57c0:7eef", true, true},   // Teredo client 168.63.129.16
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false, true},  // Teredo client 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", true, false},  // exact allowlist entry
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", false, true},  // Teredo client 10.0.0.1
		{"2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7", true, true},   // Teredo server 169.254.169.254
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", false, true},      // Teredo server 10.0.0.1
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", false, false}, // Teredo client 8.8.8.8
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, false}, // RFC 4380 example, client 192.0.2.45
	}
	for _, tt := range tests {
		err := CheckAddr(netip.MustParseAddr(tt.addr), tt.privateOK)
		if (err != nil) != tt.refused {
			t.Errorf("CheckAddr(%s, %v) = %v; refused want %v", tt.addr, tt.privateOK, err, tt.refused)
		}
		if err != nil && !errors.Is(err, ErrSSRF) {
			t.Errorf("CheckAddr(%s) error %v is not ErrSSRF", tt.addr, err)
		}
	}
	if err := CheckHostName("metadata.google.internal."); !errors.Is(err, ErrSSRF) {
		t.Errorf("metadata host name not refused: %v", err)
	}
}

func TestWildcardNeverMatchesIP(t *testing.T) {
	list := Allowlist{"*.0.0.1", "*.168.1.1", "*.1]", "*.example.com"}
	for _, host := range []string{"127.0.0.1", "192.168.1.1", "[::1]", "::1"} {
		if ok, _ := list.Match(host); ok {
			t.Errorf("Match(%q) allowed through a wildcard", host)
		}
	}
	if ok, exact := list.Match("api.example.com"); !ok || exact {
		t.Errorf("Match(api.example.com) = %v, %v; want allowed, not exact", ok, exact)
	}
}

func TestCheckHostNameIPLiterals(t *testing.T) {
	tests := []struct {
		host    string
		refused bool
	}{
		{"169.254.169.254", true},
		{"[fd00:ec2::254]", true},
		{"::ffff:169.254.169.254", true},
		{"169.254.0.7", true},
		{"fe80::1%eth0", true},
		{"0.0.0.0", true},
		{"224.0.0.1", true},
		{"METADATA.", true},
		{"instance-data", true},
		{"[2002:a9fe:a9fe::]", true}, // 6to4 of 169.254.169.254
		{"64:ff9b:1::a9fe:a9fe", true},
		{"2001:0:4136:e378:8000:63bf:5601:5601", true}, // Teredo client 169.254.169.254
		{"::a9fe:a9fe", true},
		{"127.0.0.1", false},       // left to the dialer and the exact-entry rule
		{"[2002:7f00:1::]", false}, // 6to4 of 127.0.0.1: likewise
		{"10.0.0.1", false},
		{"93.184.216.34", false},
		{"api.stripe.com", false},
	}
	for _, tt := range tests {
		err := CheckHostName(tt.host)
		if (err != nil) != tt.refused {
			t.Errorf("CheckHostName(%q) = %v; refused want %v", tt.host, err, tt.refused)
		}
		if err != nil && !errors.Is(err, ErrSSRF) {
			t.Errorf("CheckHostName(%q) error %v is not ErrSSRF", tt.host, err)
		}
	}
}

// TestAllowlistMatchEntry: MatchEntry decides exactly as Match and names
// the entry that admitted the host, as the list spells it: the exact entry
// when there is one, else the most specific wildcard; none when refused.
func TestAllowlistMatchEntry(t *testing.T) {
	tests := []struct {
		name  string
		list  Allowlist
		host  string
		entry string
	}{
		{"exact", Allowlist{"api.stripe.com"}, "api.stripe.com", "api.stripe.com"},
		{"exact as the list spells it", Allowlist{"API.Stripe.com."}, "api.stripe.com", "API.Stripe.com."},
		{"wildcard", Allowlist{"*.stripe.com"}, "api.stripe.com", "*.stripe.com"},
		{"exact beats an earlier wildcard", Allowlist{"*.stripe.com", "api.stripe.com"}, "api.stripe.com", "api.stripe.com"},
		{"most specific wildcard", Allowlist{"*.stripe.com", "*.eu.stripe.com", "*.com"}, "api.eu.stripe.com", "*.eu.stripe.com"},
		{"most specific wildcard listed first", Allowlist{"*.eu.stripe.com", "*.stripe.com"}, "api.eu.stripe.com", "*.eu.stripe.com"},
		{"exact IP", Allowlist{"*.0.0.1", "127.0.0.1"}, "127.0.0.1", "127.0.0.1"},
		{"bracketed IPv6", Allowlist{"[::1]"}, "::1", "[::1]"},
		{"refused", Allowlist{"*.stripe.com", "api.github.com"}, "stripe.com", ""},
		{"wildcard never an IP", Allowlist{"*.0.0.1"}, "127.0.0.1", ""},
		{"empty list", Allowlist{}, "api.stripe.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry, allowed, exact := tt.list.MatchEntry(tt.host)
			wantAllowed, wantExact := tt.list.Match(tt.host)
			if allowed != wantAllowed || exact != wantExact {
				t.Errorf("MatchEntry(%q) decides %v, %v; Match %v, %v", tt.host, allowed, exact, wantAllowed, wantExact)
			}
			if entry != tt.entry || allowed != (tt.entry != "") {
				t.Errorf("MatchEntry(%q) = %q, %v; want %q", tt.host, entry, allowed, tt.entry)
			}
		})
	}
}

// TestMatchEntryDecidesAsMatch runs MatchEntry over the hosts of the
// other guard tests: its decision is Match's, and an admitted host always
// names an entry of the list.
func TestMatchEntryDecidesAsMatch(t *testing.T) {
	lists := []Allowlist{
		{"api.stripe.com", "*.example.com", "127.0.0.1", "LOCALHOST", "kube.internal"},
		{"*.0.0.1", "*.168.1.1", "*.1]", "*.example.com"},
		{"*.example.com", "a.example.com", "*.b.example.com"},
		{},
	}
	hosts := []string{"api.stripe.com", "API.Stripe.com.", "stripe.com", "evil-api.stripe.com", "a.example.com",
		"a.b.example.com", "x.a.b.example.com", "example.com", "notexample.com", "127.0.0.1", "localhost", "[::1]", "::1",
		"*.example.com", "\u212Aube.internal", "192.168.1.1", ""}
	for _, list := range lists {
		for _, host := range hosts {
			entry, allowed, exact := list.MatchEntry(host)
			wantAllowed, wantExact := list.Match(host)
			if allowed != wantAllowed || exact != wantExact {
				t.Errorf("%q: MatchEntry(%q) decides %v, %v; Match %v, %v", list, host, allowed, exact, wantAllowed, wantExact)
			}
			if allowed && !slices.Contains(list, entry) {
				t.Errorf("%q: MatchEntry(%q) names %q, not an entry of the list", list, host, entry)
			}
		}
	}
}

// TestCheckAddrEmbeddedIPv4 puts IPv4 addresses into each IPv6 form that
// carries one to a gateway or relay: the IPv6 address is decided as the
// IPv4 address is, with and without an exact allowlist entry.
func TestCheckAddrEmbeddedIPv4(t *testing.T) {
	public := [4]byte{8, 8, 8, 8}
	forms := map[string]func(v4 [4]byte) string{
		"nat64":         func(v [4]byte) string { return embedAt("64:ff9b::", v, 12) },
		"local /96":     func(v [4]byte) string { return embedAt("64:ff9b:1::", v, 12) },
		"local /64":     func(v [4]byte) string { return embedAt("64:ff9b:1::", v, 9) },
		"local /56":     func(v [4]byte) string { return embedSplit("64:ff9b:1::", v, 1) },
		"local /48":     func(v [4]byte) string { return embedSplit("64:ff9b:1::", v, 2) },
		"6to4":          func(v [4]byte) string { return embedAt("2002::", v, 2) },
		"compatible":    func(v [4]byte) string { return embedAt("::", v, 12) },
		"translated":    func(v [4]byte) string { return embedAt("::ffff:0:0:0", v, 12) },
		"teredo server": func(v [4]byte) string { return teredo(v, public) },
		"teredo client": func(v [4]byte) string { return teredo(public, v) },
	}
	v4s := []string{"169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "169.254.1.1",
		"127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "198.18.0.1",
		"224.0.0.1", "8.8.8.8", "93.184.216.34", "1.1.1.1"}
	for name, form := range forms {
		for _, s := range v4s {
			v4 := netip.MustParseAddr(s)
			addr := netip.MustParseAddr(form(v4.As4()))
			if name == "local /64" && v4.IsMulticast() {
				// No connection reaches a multicast address: the
				// /96 reading, 1.0.0.0, decides (see
				// TestCheckAddrLocalNAT64MulticastReading).
				continue
			}
			for _, privateOK := range []bool{false, true} {
				want := CheckAddr(v4, privateOK) != nil
				err := CheckAddr(addr, privateOK)
				if (err != nil) != want {
					t.Errorf("%s: CheckAddr(%s, %v) = %v; refused want %v as for %s", name, addr, privateOK, err, want, v4)
				}
				if err != nil && !errors.Is(err, ErrSSRF) {
					t.Errorf("%s: CheckAddr(%s) error %v is not ErrSSRF", name, addr, err)
				}
			}
		}
	}
}

// TestCheckAddrLocalNAT64MulticastReading: a local-use NAT64 address of a
// public IPv4 address whose reading in another layout is a multicast
// address (which no connection reaches) is decided by its public readings,
// not refused outright, even when the host was allowlisted exactly.
func TestCheckAddrLocalNAT64MulticastReading(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"64:ff9b:1:0:8:808:e000:0", false}, // /64 of 8.8.8.224; read as a /96: 224.0.0.0
		{"64:ff9b:1:102:e0:500::", false},   // /48 of 1.2.224.5; read as a /64: 224.5.0.0
		{"64:ff9b:1::e000:1", true},         // /96 of 224.0.0.1, every other reading 0.0.0.0
	}
	for _, tt := range tests {
		for _, privateOK := range []bool{false, true} {
			err := CheckAddr(netip.MustParseAddr(tt.addr), privateOK)
			if (err != nil) != tt.refused {
				t.Errorf("CheckAddr(%s, %v) = %v; refused want %v", tt.addr, privateOK, err, tt.refused)
			}
		}
	}
}

// embedAt writes v4 into prefix at byte offset at.
func embedAt(prefix string, v4 [4]byte, at int) string {
	b := netip.MustParseAddr(prefix).As16()
	copy(b[at:], v4[:])
	return netip.AddrFrom16(b).String()
}

// embedSplit writes v4 as RFC 6052 does for a /48 (first = 2) or /56
// (first = 1) prefix: first bytes end at bit 64, the rest skip bits 64-71.
func embedSplit(prefix string, v4 [4]byte, first int) string {
	b := netip.MustParseAddr(prefix).As16()
	copy(b[8-first:8], v4[:first])
	copy(b[9:], v4[first:])
	return netip.AddrFrom16(b).String()
}

// teredo builds a Teredo address (RFC 4380): server in bits 32-63, client
// obfuscated (inverted) in the last 32 bits.
func teredo(server, client [4]byte) string {
	b := netip.MustParseAddr("2001:0:0:0:8000:63bf::").As16()
	copy(b[4:8], server[:])
	for i, c := range client {
		b[12+i] = ^c
	}
	return netip.AddrFrom16(b).String()
}

// TestCheckAddrSiteLocal: deprecated IPv6 site-local addresses (fec0::/10,
// RFC 3879) are as non-public as ULAs, and legacy networks still route them
// (Windows' well-known DNS servers fec0:0:0:ffff::1-3): a host reached
// through a wildcard entry must not connect to one, nor through a name
// that resolves to one at dial time.
func TestCheckAddrSiteLocal(t *testing.T) {
	for _, a := range []string{"fec0::1", "fec0:0:0:ffff::1", "feff:ffff::1", "fec0::1%eth0"} {
		addr := netip.MustParseAddr(a)
		if err := CheckAddr(addr, false); !errors.Is(err, ErrSSRF) {
			t.Errorf("CheckAddr(%s, false) = %v, want ErrSSRF", a, err)
		}
		if err := CheckAddr(addr, true); err != nil {
			t.Errorf("CheckAddr(%s, true) = %v: an exact entry may reach it", a, err)
		}
		ctx := withPrivateOK(context.Background(), false)
		if err := dialControl(ctx, "tcp6", net.JoinHostPort(a, "443"), nil); !errors.Is(err, ErrSSRF) {
			t.Errorf("dialControl(%s) = %v, want ErrSSRF", a, err)
		}
	}
	// Its neighbours stay as they were: fe80::/10 is link-local, and
	// 2000::/3 global.
	if err := CheckAddr(netip.MustParseAddr("febf::1"), true); !errors.Is(err, ErrSSRF) {
		t.Errorf("link-local febf::1 not refused: %v", err)
	}
	if err := CheckAddr(netip.MustParseAddr("2606:4700::1"), false); err != nil {
		t.Errorf("public 2606:4700::1 refused: %v", err)
	}
}
