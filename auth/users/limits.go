package users

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits bound one user's jailed commands. A zero field means "not set":
// the server then uses its built-in default.
type Limits struct {
	// CPUTime is the CPU time each process may use (key cpu_time).
	CPUTime time.Duration
	// Timeout is the wall-clock limit of one command (key timeout).
	Timeout time.Duration
	// MaxTimeout is the longest wall clock a client may ask for one
	// command (key max_timeout). When both are set, it is at least
	// Timeout.
	MaxTimeout time.Duration
	// Memory is the memory, in bytes, of each process and of the whole
	// jail (key memory).
	Memory int64
	// FileSize is the size, in bytes, of the largest file a command may
	// write (key file_size).
	FileSize int64
	// Output is the number of bytes of output forwarded per command (key
	// output).
	Output int64
	// Processes is the number of processes a user may have (key
	// processes).
	Processes int64
	// OpenFiles is the number of files each process may have open (key
	// open_files).
	OpenFiles int64
}

// limitsDoc holds the limit keys of [defaults] or a [users.NAME] table as
// the toml package decodes them. A nil field was not in the file; an
// integer field holds an int64 and the others a string or an int64.
type limitsDoc struct {
	CPUTime    any `toml:"cpu_time"`
	Timeout    any `toml:"timeout"`
	MaxTimeout any `toml:"max_timeout"`
	Memory     any `toml:"memory"`
	FileSize   any `toml:"file_size"`
	Output     any `toml:"output"`
	Processes  any `toml:"processes"`
	OpenFiles  any `toml:"open_files"`
}

// A limitKey describes one limit key: what it holds, its valid range (in
// nanoseconds for durations) and where it is found in a limitsDoc and a
// Limits.
type limitKey struct {
	name     string
	kind     valueKind // kindDuration, kindSize or kindInteger
	min, max int64
	doc      func(*limitsDoc) any
	field    func(*Limits) *int64
}

// limitKeys lists the limit keys in the order of the Limits fields.
var limitKeys = []limitKey{
	{"cpu_time", kindDuration, int64(time.Second), int64(24 * time.Hour),
		func(d *limitsDoc) any { return d.CPUTime }, func(l *Limits) *int64 { return (*int64)(&l.CPUTime) }},
	{"timeout", kindDuration, int64(time.Second), int64(24 * time.Hour),
		func(d *limitsDoc) any { return d.Timeout }, func(l *Limits) *int64 { return (*int64)(&l.Timeout) }},
	{"max_timeout", kindDuration, int64(time.Second), int64(24 * time.Hour),
		func(d *limitsDoc) any { return d.MaxTimeout }, func(l *Limits) *int64 { return (*int64)(&l.MaxTimeout) }},
	{"memory", kindSize, 16 << 20, 64 << 30,
		func(d *limitsDoc) any { return d.Memory }, func(l *Limits) *int64 { return &l.Memory }},
	{"file_size", kindSize, 1 << 10, 1 << 40,
		func(d *limitsDoc) any { return d.FileSize }, func(l *Limits) *int64 { return &l.FileSize }},
	{"output", kindSize, 1 << 10, 1 << 30,
		func(d *limitsDoc) any { return d.Output }, func(l *Limits) *int64 { return &l.Output }},
	{"processes", kindInteger, 1, 4096,
		func(d *limitsDoc) any { return d.Processes }, func(l *Limits) *int64 { return &l.Processes }},
	{"open_files", kindInteger, 16, 65536,
		func(d *limitsDoc) any { return d.OpenFiles }, func(l *Limits) *int64 { return &l.OpenFiles }},
}

// findLimitKey returns the limit key called name.
func findLimitKey(name string) (*limitKey, bool) {
	for i := range limitKeys {
		if limitKeys[i].name == name {
			return &limitKeys[i], true
		}
	}
	return nil, false
}

// mergeLimits returns base with the limits set in d in place of base's.
// The values in d must have been checked.
func mergeLimits(base Limits, d *limitsDoc) Limits {
	l := base
	for _, k := range limitKeys {
		if x := k.doc(d); x != nil {
			*k.field(&l), _ = k.value(x)
		}
	}
	return l
}

// value checks and converts a decoded value of the key: for kindDuration a
// string or an int64 (seconds), for kindSize a string or an int64 (bytes),
// and for kindInteger an int64.
func (k *limitKey) value(x any) (int64, error) {
	var n int64
	var shown string // the value for an error message
	switch x := x.(type) {
	case int64:
		switch k.kind {
		case kindDuration:
			// Check the range in seconds, before the product can overflow.
			if x < k.min/int64(time.Second) || x > k.max/int64(time.Second) {
				return 0, k.rangeError(fmt.Sprintf("%d seconds", x))
			}
			return x * int64(time.Second), nil
		case kindSize:
			n, shown = x, fmt.Sprintf("%d bytes", x)
		default:
			n, shown = x, strconv.FormatInt(x, 10)
		}
	case string:
		var err error
		switch k.kind {
		case kindDuration:
			n, err = parseDuration(x)
		case kindSize:
			n, err = parseSize(x)
		default:
			err = fmt.Errorf("must be %s, not a string", k.kind.want())
		}
		if err != nil {
			return 0, err
		}
		shown = strconv.Quote(x)
	default:
		return 0, fmt.Errorf("must be %s, not %s", k.kind.want(), goTypeName(x))
	}
	if n < k.min || n > k.max {
		return 0, k.rangeError(shown)
	}
	return n, nil
}

func (k *limitKey) rangeError(shown string) error {
	return fmt.Errorf("must be between %s and %s, not %s", k.format(k.min), k.format(k.max), shown)
}

// format returns n, a value of the key, as the file would write it.
func (k *limitKey) format(n int64) string {
	switch k.kind {
	case kindDuration:
		return formatDuration(time.Duration(n))
	case kindSize:
		return formatSize(n)
	}
	return strconv.FormatInt(n, 10)
}

// parseDuration parses a duration string as time.ParseDuration does, with
// messages that suit the users file.
func parseDuration(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("duration is empty")
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		if _, nerr := strconv.ParseUint(t, 10, 64); nerr == nil {
			return 0, fmt.Errorf("bad duration %q: missing unit (write %q, or %s without quotes for seconds)", s, t+"s", t)
		}
		return 0, fmt.Errorf("bad duration %q: want a number and a unit such as \"90s\", \"2m\" or \"1h30m\"", s)
	}
	return int64(d), nil
}

// formatDuration is time.Duration.String without zero minutes or seconds
// at the end: "2m" rather than "2m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatSize writes n bytes with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []string{"TiB", "GiB", "MiB", "KiB"} {
		if m, _ := unitBytes(u); n != 0 && n%m == 0 {
			return strconv.FormatInt(n/m, 10) + u
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
