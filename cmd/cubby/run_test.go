package main

import "testing"

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, user, addr string
		bad            bool
	}{
		{"alice@127.0.0.1", "alice", "127.0.0.1:5050", false},
		{"127.0.0.1:6000", "", "127.0.0.1:6000", false},
		{"bob@example.org:22", "bob", "example.org:22", false},
		{"alice@[::1]:7000", "alice", "[::1]:7000", false},
		{"alice@[::1]", "alice", "[::1]:5050", false},
		{"::1", "", "[::1]:5050", false},
		{"@host", "", "", true},
		{"alice@", "", "", true},
	}
	for _, tt := range tests {
		user, addr, err := parseTarget(tt.in, "5050")
		if (err != nil) != tt.bad || user != tt.user || addr != tt.addr {
			t.Errorf("parseTarget(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, user, addr, err, tt.user, tt.addr, tt.bad)
		}
	}
}
