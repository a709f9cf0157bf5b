package users

import (
	"errors"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/cubby-dev/cubby/auth"
)

// errorLine matches a one-line error from Parse("fuzz.toml", ...).
var errorLine = regexp.MustCompile(`^fuzz\.toml:([1-9][0-9]*): [^\r\n]+$`)

// addSeeds adds every test input to f.
func addSeeds(f *testing.F) {
	for _, tt := range slices.Concat(badFiles, badLimits, badFolders) {
		f.Add([]byte(expand(tt.in)))
	}
	f.Add([]byte(expand(labFile)))
	f.Add([]byte(expand(limitsFile)))
	f.Add([]byte(expand(classFile)))
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		nlines := strings.Count(string(data), "\n") + 1
		if err != nil {
			m := errorLine.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q is not one line starting with fuzz.toml:LINE:", err)
			}
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("error %q is %T, want *ParseError", err, err)
			}
			if line, _ := strconv.Atoi(m[1]); line > nlines {
				t.Fatalf("error %q points past the last line, %d", err, nlines)
			}
		} else {
			checkLimits(t, "defaults", c.Defaults.Limits)
			for name, u := range c.Users {
				if u.Name != name || ValidName(name) != nil || u.Line < 1 || u.Line > nlines {
					t.Fatalf("bad user %q: %+v", name, u)
				}
				for _, cmd := range u.Commands {
					if cmd != AnyCommand && commandProblem(cmd) != "" {
						t.Fatalf("user %q may run %q", name, cmd)
					}
				}
				if u.Quota < 0 {
					t.Fatalf("user %q has quota %d", name, u.Quota)
				}
				checkLimits(t, "users."+name, u.Limits)
			}
		}

		// Whenever the toml package accepts the text, the scanner that
		// finds line numbers must see exactly the same keys.
		md, err := toml.Decode(string(data), &struct{}{})
		if err != nil {
			return
		}
		lay, err := scanLayout(string(data))
		if err != nil {
			t.Fatalf("toml accepts the text but the scanner does not: %v", err)
		}
		if got, want := keyStrings(layoutKeys(lay)), keyStrings(md.Keys()); !slices.Equal(got, want) {
			t.Fatalf("scanner keys differ from toml's:\n got %q\nwant %q", got, want)
		}
		for _, kp := range lay.keys {
			if kp.line < 1 || kp.line > nlines {
				t.Fatalf("key %s on line %d of %d", kp.key, kp.line, nlines)
			}
		}
	})
}

// checkLimits checks that every limit of a loaded file is unset or in its
// range, and that the timeouts agree.
func checkLimits(t *testing.T, table string, l Limits) {
	t.Helper()
	for _, k := range limitKeys {
		if n := *k.field(&l); n != 0 && (n < k.min || n > k.max) {
			t.Fatalf("%s.%s = %d, out of range", table, k.name, n)
		}
	}
	if l.Timeout != 0 && l.MaxTimeout != 0 && l.MaxTimeout < l.Timeout {
		t.Fatalf("%s: max_timeout %v < timeout %v", table, l.MaxTimeout, l.Timeout)
	}
}

// FuzzEdit checks that the text edits either refuse or produce a file
// that loads and differs from the original only as intended.
func FuzzEdit(f *testing.F) {
	addSeeds(f)
	v, err := auth.ParseVerifier(testV3)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text := string(data)
		before, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		names := slices.Sorted(maps.Keys(before.Users))
		for _, name := range append(names, "newbie") {
			if out, err := addUserText("fuzz.toml", text, name, v); err == nil {
				after := mustParse(t, out)
				if before.Users[name] != nil || !strings.HasPrefix(out, text) {
					t.Fatalf("AddUser(%q) added an existing user or changed existing text:\n%s", name, out)
				}
				sameUsers(t, before, after, name)
			} else if before.Users[name] == nil && !strings.Contains(err.Error(), "cannot edit safely") {
				t.Fatalf("AddUser(%q): %v", name, err)
			}
			if out, err := setPasswordText("fuzz.toml", text, name, v); err == nil {
				after := mustParse(t, out)
				if after.Users[name].Verifier.String() != v.String() {
					t.Fatalf("SetPassword(%q) did not set it:\n%s", name, out)
				}
				sameUsers(t, before, after, name)
			} else if before.Users[name] != nil && !strings.Contains(err.Error(), "cannot edit safely") {
				t.Fatalf("SetPassword(%q): %v", name, err)
			}
			if out, err := deleteUserText("fuzz.toml", text, name); err == nil {
				after := mustParse(t, out)
				if after.Users[name] != nil || len(after.Users) != len(before.Users)-1 {
					t.Fatalf("DeleteUser(%q) did not delete exactly it:\n%s", name, out)
				}
				sameUsers(t, before, after, name)
			} else if before.Users[name] != nil && !strings.Contains(err.Error(), "cannot edit safely") {
				t.Fatalf("DeleteUser(%q): %v", name, err)
			}
		}
	})
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("fuzz.toml", []byte(text))
	if err != nil {
		t.Fatalf("edited text does not load: %v\n%s", err, text)
	}
	return c
}

// sameUsers checks that every user but except has the same settings in
// before and after.
func sameUsers(t *testing.T, before, after *Config, except string) {
	t.Helper()
	for name, b := range before.Users {
		if name == except {
			continue
		}
		a, ok := after.Users[name]
		if !ok || a.Verifier.String() != b.Verifier.String() || a.Disabled != b.Disabled || a.Demo != b.Demo ||
			a.Quota != b.Quota || a.Limits != b.Limits || !slices.Equal(a.Commands, b.Commands) {
			t.Fatalf("editing %q changed %q: %+v -> %+v", except, name, b, a)
		}
	}
}
