package users

import (
	"strings"
	"testing"
	"time"
)

// limitsFile sets every limit in [defaults] and overrides some for users.
const limitsFile = `[defaults]
commands = ["ls"]
cpu_time = "90s"
timeout = 60          # seconds
max_timeout = "10m"
memory = "512MiB"
processes = 64
file_size = "1GiB"
open_files = 256
output = 1048576

# alice gets more of everything.
[users.alice]
password = "@v1"
cpu_time = "1h30m"
timeout = "5m"
max_timeout = "24h"
memory = "64GiB"
processes = 4096
file_size = "1TiB"
open_files = 65536
output = "1GiB"

# bob takes the defaults.
[users.bob]
password = "@v2"

# carol has the smallest limits and a shorter cap on the wall clock.
[users.carol]
password = "@v3"
cpu_time = 1
timeout = "1s"
max_timeout = 1
memory = 16777216
processes = 1
file_size = "1KiB"
open_files = 16
output = "1024"
`

func TestParseLimits(t *testing.T) {
	c, err := Parse("users.toml", []byte(expand(limitsFile)))
	if err != nil {
		t.Fatal(err)
	}
	defaults := Limits{
		CPUTime: 90 * time.Second, Timeout: time.Minute, MaxTimeout: 10 * time.Minute,
		Memory: 512 << 20, FileSize: 1 << 30, Output: 1 << 20, Processes: 64, OpenFiles: 256,
	}
	if c.Defaults.Limits != defaults {
		t.Errorf("Defaults.Limits = %+v, want %+v", c.Defaults.Limits, defaults)
	}
	for name, want := range map[string]Limits{
		"alice": {
			CPUTime: 90 * time.Minute, Timeout: 5 * time.Minute, MaxTimeout: 24 * time.Hour,
			Memory: 64 << 30, FileSize: 1 << 40, Output: 1 << 30, Processes: 4096, OpenFiles: 65536,
		},
		"bob": defaults,
		"carol": {
			CPUTime: time.Second, Timeout: time.Second, MaxTimeout: time.Second,
			Memory: 16 << 20, FileSize: 1 << 10, Output: 1 << 10, Processes: 1, OpenFiles: 16,
		},
	} {
		if got := c.Users[name].Limits; got != want {
			t.Errorf("%s: Limits = %+v, want %+v", name, got, want)
		}
	}
}

// TestMergeLimits checks, for every key, that a user's value replaces the
// default and that a key set in neither table stays zero.
func TestMergeLimits(t *testing.T) {
	tests := []struct {
		key, def, user string
		get            func(Limits) int64
		wantDef, want  int64
	}{
		{"cpu_time", `"2m"`, "30", func(l Limits) int64 { return int64(l.CPUTime) }, int64(2 * time.Minute), int64(30 * time.Second)},
		{"timeout", `"10s"`, `"1h"`, func(l Limits) int64 { return int64(l.Timeout) }, int64(10 * time.Second), int64(time.Hour)},
		{"max_timeout", "3600", `"2h"`, func(l Limits) int64 { return int64(l.MaxTimeout) }, int64(time.Hour), int64(2 * time.Hour)},
		{"memory", `"1GiB"`, `"100 MB"`, func(l Limits) int64 { return l.Memory }, 1 << 30, 100e6},
		{"file_size", "4096", `"1TB"`, func(l Limits) int64 { return l.FileSize }, 4096, 1e12},
		{"output", `"64KiB"`, `"1MB"`, func(l Limits) int64 { return l.Output }, 64 << 10, 1e6},
		{"processes", "10", "20", func(l Limits) int64 { return l.Processes }, 10, 20},
		{"open_files", "100", "1000", func(l Limits) int64 { return l.OpenFiles }, 100, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			in := "[defaults]\n" + tt.key + " = " + tt.def + "\n" +
				"[users.own]\npassword = \"@v1\"\n" + tt.key + " = " + tt.user + "\n" +
				"[users.inherits]\npassword = \"@v2\"\n"
			c, err := Parse("users.toml", []byte(expand(in)))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c.Defaults.Limits); got != tt.wantDef {
				t.Errorf("default = %d, want %d", got, tt.wantDef)
			}
			if got := tt.get(c.Users["own"].Limits); got != tt.want {
				t.Errorf("own = %d, want %d", got, tt.want)
			}
			if got := tt.get(c.Users["inherits"].Limits); got != tt.wantDef {
				t.Errorf("inherited = %d, want %d", got, tt.wantDef)
			}
			// Only the key set is non-zero.
			for _, l := range []Limits{c.Defaults.Limits, c.Users["own"].Limits} {
				n := 0
				for _, k := range limitKeys {
					if *k.field(&l) != 0 {
						n++
					}
				}
				if n != 1 {
					t.Errorf("Limits = %+v: want only %s set", l, tt.key)
				}
			}

			// Without [defaults], the user's value stands alone and the
			// other user has none.
			in = "[users.own]\npassword = \"@v1\"\n" + tt.key + " = " + tt.user + "\n[users.none]\npassword = \"@v2\"\n"
			c, err = Parse("users.toml", []byte(expand(in)))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c.Users["own"].Limits); got != tt.want {
				t.Errorf("without defaults: own = %d, want %d", got, tt.want)
			}
			if l := c.Users["none"].Limits; l != (Limits{}) || c.Defaults.Limits != (Limits{}) {
				t.Errorf("without defaults: Limits = %+v and defaults %+v, want zero", l, c.Defaults.Limits)
			}
		})
	}
}

// badLimits are users files with one problem in a limit each, and the
// exact error. TestParseErrors checks them with badFiles, and they seed
// the fuzzers.
var badLimits = []struct {
	name, in, want string
}{
	// Wrong TOML types.
	{"float cpu_time", "[defaults]\ncpu_time = 1.5\n",
		`users.toml:2: defaults.cpu_time: must be a duration such as "90s" or "2m", or an integer number of seconds, not a float`},
	{"boolean timeout", "[users.alice]\npassword = \"@v1\"\ntimeout = true\n",
		`users.toml:3: users.alice.timeout: must be a duration such as "90s" or "2m", or an integer number of seconds, not a boolean`},
	{"array max_timeout", "[users.alice]\npassword = \"@v1\"\nmax_timeout = [\"1m\"]\n",
		`users.toml:3: users.alice.max_timeout: must be a duration such as "90s" or "2m", or an integer number of seconds, not an array`},
	{"date-time timeout", "[defaults]\ntimeout = 07:32:00\n",
		`users.toml:2: defaults.timeout: must be a duration such as "90s" or "2m", or an integer number of seconds, not a date-time`},
	{"float memory", "[users.alice]\npassword = \"@v1\"\nmemory = 1e9\n",
		`users.toml:3: users.alice.memory: must be a size such as "1GiB" or an integer number of bytes, not a float`},
	{"boolean file_size", "[defaults]\nfile_size = false\n",
		`users.toml:2: defaults.file_size: must be a size such as "1GiB" or an integer number of bytes, not a boolean`},
	{"table output", "[users.alice]\npassword = \"@v1\"\n[users.alice.output]\n",
		`users.toml:3: users.alice.output: must be a size such as "1GiB" or an integer number of bytes, not a table`},
	{"string processes", "[users.alice]\npassword = \"@v1\"\nprocesses = \"64\"\n",
		`users.toml:3: users.alice.processes: must be an integer, not a string`},
	{"float open_files", "[defaults]\nopen_files = 256.0\n",
		`users.toml:2: defaults.open_files: must be an integer, not a float`},
	{"dotted open_files", "[defaults]\nopen_files.soft = 256\n",
		`users.toml:2: defaults.open_files: must be an integer, not a table`},

	// Bad strings.
	{"unknown duration unit", "[users.alice]\npassword = \"@v1\"\ncpu_time = \"5 minutes\"\n",
		`users.toml:3: users.alice.cpu_time: bad duration "5 minutes": want a number and a unit such as "90s", "2m" or "1h30m"`},
	{"duration without unit", "[defaults]\ntimeout = \"60\"\n",
		`users.toml:2: defaults.timeout: bad duration "60": missing unit (write "60s", or 60 without quotes for seconds)`},
	{"empty duration", "[defaults]\nmax_timeout = \"\"\n",
		`users.toml:2: defaults.max_timeout: duration is empty`},
	{"huge duration", "[defaults]\ntimeout = \"9999999999h\"\n",
		`users.toml:2: defaults.timeout: bad duration "9999999999h": want a number and a unit such as "90s", "2m" or "1h30m"`},
	{"bad memory unit", "[defaults]\nmemory = \"1G\"\n",
		`users.toml:2: defaults.memory: bad size "1G": unknown unit "G" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
	{"fractional file_size", "[users.alice]\npassword = \"@v1\"\nfile_size = \"1.5GiB\"\n",
		`users.toml:3: users.alice.file_size: bad size "1.5GiB": fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB`},
	{"empty output", "[defaults]\noutput = \"\"\n",
		`users.toml:2: defaults.output: size is empty`},

	// Out of range, at both ends.
	{"cpu_time too small", "[defaults]\ncpu_time = \"500ms\"\n",
		`users.toml:2: defaults.cpu_time: must be between 1s and 24h, not "500ms"`},
	{"cpu_time zero seconds", "[users.alice]\npassword = \"@v1\"\ncpu_time = 0\n",
		`users.toml:3: users.alice.cpu_time: must be between 1s and 24h, not 0 seconds`},
	{"cpu_time too large", "[users.alice]\npassword = \"@v1\"\ncpu_time = \"24h1s\"\n",
		`users.toml:3: users.alice.cpu_time: must be between 1s and 24h, not "24h1s"`},
	{"timeout negative", "[defaults]\ntimeout = \"-1m\"\n",
		`users.toml:2: defaults.timeout: must be between 1s and 24h, not "-1m"`},
	{"timeout too many seconds", "[defaults]\ntimeout = 86401\n",
		`users.toml:2: defaults.timeout: must be between 1s and 24h, not 86401 seconds`},
	{"timeout seconds overflow", "[defaults]\ntimeout = 9223372036854775807\n",
		`users.toml:2: defaults.timeout: must be between 1s and 24h, not 9223372036854775807 seconds`},
	{"max_timeout zero", "[users.alice]\npassword = \"@v1\"\nmax_timeout = \"0s\"\n",
		`users.toml:3: users.alice.max_timeout: must be between 1s and 24h, not "0s"`},
	{"max_timeout too large", "[defaults]\nmax_timeout = \"25h\"\n",
		`users.toml:2: defaults.max_timeout: must be between 1s and 24h, not "25h"`},
	{"memory too small", "[defaults]\nmemory = \"15MiB\"\n",
		`users.toml:2: defaults.memory: must be between 16MiB and 64GiB, not "15MiB"`},
	{"memory too large", "[users.alice]\npassword = \"@v1\"\nmemory = 68719476737\n",
		`users.toml:3: users.alice.memory: must be between 16MiB and 64GiB, not 68719476737 bytes`},
	{"memory negative", "[defaults]\nmemory = -1\n",
		`users.toml:2: defaults.memory: must be between 16MiB and 64GiB, not -1 bytes`},
	{"file_size too small", "[defaults]\nfile_size = 1023\n",
		`users.toml:2: defaults.file_size: must be between 1KiB and 1TiB, not 1023 bytes`},
	{"file_size too large", "[defaults]\nfile_size = \"2TiB\"\n",
		`users.toml:2: defaults.file_size: must be between 1KiB and 1TiB, not "2TiB"`},
	{"output zero", "[users.alice]\npassword = \"@v1\"\noutput = \"0B\"\n",
		`users.toml:3: users.alice.output: must be between 1KiB and 1GiB, not "0B"`},
	{"output too large", "[defaults]\noutput = \"1025MiB\"\n",
		`users.toml:2: defaults.output: must be between 1KiB and 1GiB, not "1025MiB"`},
	{"processes zero", "[defaults]\nprocesses = 0\n",
		`users.toml:2: defaults.processes: must be between 1 and 4096, not 0`},
	{"processes too many", "[users.alice]\npassword = \"@v1\"\nprocesses = 4097\n",
		`users.toml:3: users.alice.processes: must be between 1 and 4096, not 4097`},
	{"open_files too few", "[defaults]\nopen_files = 15\n",
		`users.toml:2: defaults.open_files: must be between 16 and 65536, not 15`},
	{"open_files too many", "[users.alice]\npassword = \"@v1\"\nopen_files = 65537\n",
		`users.toml:3: users.alice.open_files: must be between 16 and 65536, not 65537`},

	// max_timeout below timeout, after merging.
	{"max_timeout below timeout in defaults", "# limits\n[defaults]\ntimeout = \"10m\"\nmax_timeout = \"5m\"\n",
		`users.toml:2: defaults: max_timeout (5m) must not be less than timeout (10m)`},
	{"max_timeout below timeout in a user", "[users.alice]\npassword = \"@v1\"\nmax_timeout = 30\ntimeout = \"1m30s\"\n",
		`users.toml:1: users.alice: max_timeout (30s) must not be less than timeout (1m30s)`},
	{"user timeout above default max_timeout", "[defaults]\nmax_timeout = \"1h\"\n\n[users.alice]\npassword = \"@v1\"\ntimeout = \"2h\"\n",
		`users.toml:4: users.alice: max_timeout (1h, from [defaults]) must not be less than timeout (2h)`},
	{"user max_timeout below default timeout", "[defaults]\ntimeout = \"2h\"\nmax_timeout = \"3h\"\n[users.alice]\npassword = \"@v1\"\n[users.bob]\npassword = \"@v2\"\nmax_timeout = \"1h\"\n",
		`users.toml:6: users.bob: max_timeout (1h) must not be less than timeout (2h, from [defaults])`},
	{"first user in file order", "[users.zed]\npassword = \"@v1\"\ntimeout = 2\nmax_timeout = 1\n[users.amy]\npassword = \"@v2\"\ntimeout = 2\nmax_timeout = 1\n",
		`users.toml:1: users.zed: max_timeout (1s) must not be less than timeout (2s)`},
	{"range error before timeout order", "[defaults]\ntimeout = 10\nmax_timeout = 5\n[users.alice]\npassword = \"@v1\"\nprocesses = 0\n",
		`users.toml:6: users.alice.processes: must be between 1 and 4096, not 0`},
	{"missing password before timeout order", "[defaults]\ntimeout = 10\nmax_timeout = 5\n[users.alice]\n",
		`users.toml:4: users.alice: missing password`},
}

func TestFormatLimits(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1s"}, {90 * time.Second, "1m30s"}, {2 * time.Minute, "2m"}, {time.Hour, "1h"},
		{time.Hour + time.Second, "1h0m1s"}, {90 * time.Minute, "1h30m"}, {24 * time.Hour, "24h"}, {500 * time.Millisecond, "500ms"},
	} {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1000, "1000B"}, {1 << 10, "1KiB"}, {1536 << 20, "1536MiB"}, {64 << 30, "64GiB"}, {1 << 40, "1TiB"},
	} {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
		if n, err := parseSize(tt.want); err != nil || n != tt.n {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", tt.n, n, err)
		}
	}
	// Every range is described in the syntax of the file, so that an
	// administrator can copy the bounds.
	for _, k := range limitKeys {
		for _, n := range []int64{k.min, k.max} {
			s := k.format(n)
			var x any = s
			if k.kind == kindInteger {
				x = n
			}
			if got, err := k.value(x); err != nil || got != n {
				t.Errorf("%s: bound %s reads back as %d, %v; want %d", k.name, s, got, err, n)
			}
		}
		if _, ok := defaultKey(k.name); !ok || strings.ToLower(k.name) != k.name {
			t.Errorf("%s is not a [defaults] key", k.name)
		}
	}
}

// TestEditWithLimits checks that the editing functions keep the limits of
// every other user, and the layout around them, intact.
func TestEditWithLimits(t *testing.T) {
	nv := newVerifier(t, "new password")
	n := nv.String()
	tests := []struct {
		name   string
		before string
		edit   func(path string) error
		after  string
		user   string // the user edited
	}{
		{
			name:   "add",
			before: limitsFile,
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  limitsFile + "\n[users.dave]\npassword = \"" + n + "\"\n",
			user:   "dave",
		},
		{
			name:   "set password among limits",
			before: limitsFile,
			edit:   func(path string) error { return SetPassword(path, "carol", nv) },
			after:  strings.Replace(limitsFile, "password = \"@v3\"\n", "password = \""+n+"\"\n", 1),
			user:   "carol",
		},
		{
			name:   "set a missing password before limits",
			before: limitsFile + "\n[users.erin]\ntimeout = 5 # short\nmax_timeout = \"1m\"\n",
			edit:   func(path string) error { return SetPassword(path, "erin", nv) },
			after:  limitsFile + "\n[users.erin]\npassword = \"" + n + "\"\ntimeout = 5 # short\nmax_timeout = \"1m\"\n",
			user:   "erin",
		},
		{
			name:   "delete a user with limits",
			before: limitsFile,
			edit:   func(path string) error { return DeleteUser(path, "alice") },
			after: strings.Replace(limitsFile, `[users.alice]
password = "@v1"
cpu_time = "1h30m"
timeout = "5m"
max_timeout = "24h"
memory = "64GiB"
processes = 4096
file_size = "1TiB"
open_files = 65536
output = "1GiB"
`, "", 1),
			user: "alice",
		},
		{
			name:   "delete a user whose timeouts disagree",
			before: limitsFile + "\n[users.erin]\npassword = \"@v1\"\ntimeout = \"11m\"\n",
			edit:   func(path string) error { return DeleteUser(path, "erin") },
			after:  limitsFile,
			user:   "erin",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, expand(tt.before))
			before, _ := Parse(path, []byte(expand(tt.before)))
			if err := tt.edit(path); err != nil {
				t.Fatal(err)
			}
			if got, want := readFile(t, path), expand(tt.after); got != want {
				t.Errorf("file after edit:\n%s\nwant:\n%s", got, want)
			}
			after, err := Load(path)
			if err != nil {
				t.Fatalf("edited file does not load: %v", err)
			}
			if before != nil {
				sameUsers(t, before, after, tt.user)
			}
			if u := after.Users[tt.user]; u != nil && u.Limits.Timeout == 0 {
				t.Errorf("%s lost its limits: %+v", tt.user, u.Limits)
			}
		})
	}

	// Dotted limit keys are refused like any other dotted user key.
	path := writeFile(t, expand("[users]\nalice.password = \"@v1\"\nalice.timeout = 5\n"))
	if err := SetPassword(path, "alice", nv); err == nil || !strings.Contains(err.Error(), "cannot edit safely") {
		t.Errorf("SetPassword on dotted keys = %v, want a refusal", err)
	}
}
