package synth

import (
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestRuleable(t *testing.T) {
	tests := []struct {
		key  PortKey
		want bool
	}{
		{PortKey{observe.ProtoTCP, 443}, true},
		{PortKey{observe.ProtoUDP, 9125}, true},
		{PortKey{observe.ProtoTCP, 0}, false},
		{PortKey{observe.ProtoICMPv4, 8}, true},    // echo request
		{PortKey{observe.ProtoICMPv4, 13}, true},   // timestamp request
		{PortKey{observe.ProtoICMPv4, 3}, false},   // destination unreachable: rides on its connection
		{PortKey{observe.ProtoICMPv4, 11}, false},  // time exceeded
		{PortKey{observe.ProtoICMPv6, 128}, true},  // echo request
		{PortKey{observe.ProtoICMPv6, 1}, false},   // destination unreachable
		{PortKey{observe.ProtoICMPv6, 135}, false}, // neighbour solicitation
		{PortKey{observe.ProtoVRRP, 0}, false},
		{PortKey{observe.ProtoIGMP, 0}, false},
	}
	for _, tt := range tests {
		got, why := Ruleable(tt.key)
		if got != tt.want || got == (why != "") {
			t.Errorf("Ruleable(%s) = %v, %q; want %v with a reason exactly when false", tt.key, got, why, tt.want)
		}
	}
}
