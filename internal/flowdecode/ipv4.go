package flowdecode

import "net/netip"

// ParseIPv4 parses dotted-quad IPv4 without allocating.
func ParseIPv4(b []byte) (netip.Addr, bool) {
	var out [4]byte
	n, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 || (digits > 1 && b[i-digits] == '0') {
				return netip.Addr{}, false
			}
			out[n] = byte(val)
			n++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' {
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if n != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(out), true
}
