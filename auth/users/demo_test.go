package users

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"golang.org/x/crypto/argon2"
)

// examplePath is users.example.toml at the root of the repository.
var examplePath = filepath.Join("..", "..", "users.example.toml")

// passwordMatches recomputes the SCRAM keys of password with the salt and
// argon2id parameters of v and compares them with v's.
func passwordMatches(v auth.Verifier, password string) bool {
	salted := argon2.IDKey([]byte(password), v.Salt, v.KDF.Time, v.KDF.MemoryKiB, v.KDF.Threads, 32)
	mac := func(msg string) []byte {
		m := hmac.New(sha256.New, salted)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	storedKey := sha256.Sum256(mac("Client Key"))
	return subtle.ConstantTimeCompare(storedKey[:], v.StoredKey[:]) == 1 &&
		subtle.ConstantTimeCompare(mac("Server Key"), v.ServerKey[:]) == 1
}

func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasDemo() {
		t.Error("HasDemo() = false, want true")
	}
	if c.Defaults.Quota != 1<<30 || len(c.Defaults.Commands) == 0 {
		t.Errorf("Defaults = %+v, want commands and a 1GiB quota", c.Defaults)
	}

	// Every demo password documented in a comment must match its verifier,
	// and every demo user must have one documented.
	documented := regexp.MustCompile(`(?m)^# Demo account\. Log in as "([^"]+)" with the password "([^"]+)"\.$`).FindAllStringSubmatch(string(data), -1)
	seen := make(map[string]bool)
	for _, m := range documented {
		name, password := m[1], m[2]
		t.Run(name, func(t *testing.T) {
			u, ok := c.Users[name]
			if !ok {
				t.Fatalf("the comments document user %q, which the file does not have", name)
			}
			if !u.Demo {
				t.Errorf("%s has a published password but is not a demo account", name)
			}
			if u.Verifier.KDF != auth.DefaultKDFParams() {
				t.Errorf("%s's verifier uses %+v, want auth.DefaultKDFParams() %+v", name, u.Verifier.KDF, auth.DefaultKDFParams())
			}
			if !passwordMatches(u.Verifier, password) {
				t.Errorf("the documented password %q does not match %s's verifier", password, name)
			}
			if passwordMatches(u.Verifier, password+"x") {
				t.Error("passwordMatches accepts a wrong password")
			}
		})
		seen[name] = true
	}
	for _, want := range []string{"alice", "bob"} {
		if u, ok := c.Users[want]; !ok || !u.Demo || u.Disabled || !seen[want] {
			t.Errorf("want an enabled demo account %q with a documented password", want)
		}
	}
	for name, u := range c.Users {
		if u.Demo && !seen[name] {
			t.Errorf("demo user %q has no documented password", name)
		}
	}

	// Every key must be documented.
	keys := []string{"[defaults]", "commands", "quota", "password", "disabled", "demo", "email", "must_change_password", "[users.NAME]", "loopback",
		"[shares.NAME]", "path", "mode", "[dropboxes.NAME]", "deadline", "opens", "extensions"}
	for _, k := range limitKeys {
		keys = append(keys, k.name)
	}
	for _, key := range keys {
		if !regexp.MustCompile(`(?m)^#.*` + regexp.QuoteMeta(key)).Match(data) {
			t.Errorf("no comment mentions %s", key)
		}
	}
}

// TestExampleLimits checks that the commented-out limits in [defaults] of
// the example are the built-in defaults, written so that they load.
func TestExampleLimits(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(examplePath, data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Defaults.Limits != (Limits{}) {
		t.Errorf("the example sets limits in [defaults]: %+v; want them all commented out", c.Defaults.Limits)
	}

	// Uncomment "# key = value" for every limit key, in [defaults] only.
	text := string(data)
	start := strings.Index(text, "\n[defaults]\n")
	end := strings.Index(text, "\n[users.")
	if start < 0 || end < start {
		t.Fatal("the example has no [defaults] table before the users")
	}
	var names []string
	for _, k := range limitKeys {
		names = append(names, regexp.QuoteMeta(k.name))
	}
	commented := regexp.MustCompile(`(?m)^# ((?:` + strings.Join(names, "|") + `) = .*)$`)
	if n := len(commented.FindAllString(text[start:end], -1)); n != len(limitKeys) {
		t.Errorf("[defaults] has %d commented-out limits, want one for each of the %d keys", n, len(limitKeys))
	}
	text = text[:start] + commented.ReplaceAllString(text[start:end], "$1") + text[end:]
	c, err = Parse(examplePath, []byte(text))
	if err != nil {
		t.Fatalf("the example with its limits uncommented does not load: %v", err)
	}
	builtin := Limits{
		CPUTime: 60 * time.Second, Timeout: 60 * time.Second, MaxTimeout: 10 * time.Minute,
		Memory: 512 << 20, FileSize: 1 << 30, Output: 1 << 20, Processes: 64, OpenFiles: 256,
	}
	if c.Defaults.Limits != builtin {
		t.Errorf("the commented-out limits are %+v, want the built-in defaults %+v", c.Defaults.Limits, builtin)
	}
}

// TestExampleFolders checks that the commented-out class folders at the
// end of the example load when uncommented.
func TestExampleFolders(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n# Class folders.")
	if start < 0 {
		t.Fatal(`the example has no "# Class folders." section`)
	}
	commented := regexp.MustCompile(`(?m)^# ((?:\[shares\.|\[dropboxes\.|path =|mode =|deadline =|opens =|extensions =).*)$`)
	text = text[:start] + commented.ReplaceAllString(text[start:], "$1")
	c, err := Parse(examplePath, []byte(text))
	if err != nil {
		t.Fatalf("the example with its folders uncommented does not load: %v", err)
	}
	if len(c.Shares) != 1 || c.Shares["handouts"] == nil || len(c.Dropboxes) != 1 || len(c.Dropboxes["hw3"].Extensions) != 1 || len(c.Warnings) != 0 {
		t.Errorf("uncommented example: shares %v, drop boxes %v, warnings %q; want handouts and hw3 with bob's extension", c.Shares, c.Dropboxes, c.Warnings)
	}
}
