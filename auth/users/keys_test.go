package users

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func smallRSA(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

const (
	testEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
)

func TestParseKeys(t *testing.T) {
	text := expand("[users.alice]\npassword = \"@v1\"\nkeys = [\n  \"" + testEd25519 + "\",\n]\n[users.bob]\npassword = \"@v2\"\n")
	c, err := Parse("users.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Users["alice"].Keys; len(k) != 1 || k[0].Type() != "ssh-ed25519" {
		t.Errorf("alice's keys = %v", k)
	}
	if len(c.Users["bob"].Keys) != 0 {
		t.Errorf("bob has keys %v", c.Users["bob"].Keys)
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"not an array", "[users.alice]\npassword = \"@v1\"\nkeys = \"" + testEd25519 + "\"\n",
			`users.toml:3: users.alice.keys: must be an array of public keys such as ["ssh-ed25519 AAAA... alice@laptop"], not a string`},
		{"not a string", "[users.alice]\npassword = \"@v1\"\nkeys = [1]\n",
			`users.toml:3: users.alice.keys: entry 1 must be a string, not an integer`},
		{"garbage", "[users.alice]\npassword = \"@v1\"\n\nkeys = [\"" + testEd25519 + "\", \"ssh-ed25519 AAAAnope\"]\n",
			`users.toml:4: users.alice.keys: entry 2: not a public key in authorized_keys format ("ssh-ed25519 AAAA... comment")`},
		{"small rsa", "[users.alice]\npassword = \"@v1\"\nkeys = [\"" + smallRSA(t) + "\"]\n",
			`users.toml:3: users.alice.keys: entry 1: RSA key of 1024 bits; at least 2048 are needed`},
		{"truncated dsa", "[users.alice]\npassword = \"@v1\"\nkeys = [\"ssh-dss AAAAB3NzaC1kc3M=\"]\n",
			`users.toml:3: users.alice.keys: entry 1: not a public key in authorized_keys format ("ssh-ed25519 AAAA... comment")`},
		{"options", "[users.alice]\npassword = \"@v1\"\nkeys = ['no-pty " + testEd25519 + "']\n",
			`users.toml:3: users.alice.keys: entry 1: authorized_keys options are not supported; give only TYPE KEY [COMMENT]`},
		{"in defaults", "[defaults]\nkeys = []\n",
			`users.toml:2: unknown key "keys" in [defaults]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("users.toml", []byte(expand(tt.in)))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestSetPasswordKeepsKeys changes a password in a file with keys.
func TestSetPasswordKeepsKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	text := expand("# accounts\n[users.alice]\npassword = \"@v1\" # set by passwd\nkeys = [\"" + testEd25519 + "\"] # laptop\n")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := Parse("x", []byte(expand("[users.x]\npassword = \"@v2\"\n")))
	if err := SetPassword(path, "alice", c.Users["x"].Verifier); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(text, testV1, testV2, 1)
	if string(got) != want {
		t.Errorf("after SetPassword:\n%s\nwant\n%s", got, want)
	}
}
