package users

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// unitBytes returns the number of bytes in one unit of a size.
func unitBytes(unit string) (int64, bool) {
	switch unit {
	case "B":
		return 1, true
	case "KB":
		return 1e3, true
	case "MB":
		return 1e6, true
	case "GB":
		return 1e9, true
	case "TB":
		return 1e12, true
	case "KiB":
		return 1 << 10, true
	case "MiB":
		return 1 << 20, true
	case "GiB":
		return 1 << 30, true
	case "TiB":
		return 1 << 40, true
	}
	return 0, false
}

// ParseSize parses a size in bytes: a whole number, optionally followed by
// one of the units B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024), with optional spaces in between. Units are case
// sensitive, so that "Mb" is not taken for megabytes. Fractions, signs and
// values above math.MaxInt64 bytes are errors. Examples: "1GiB", "500 MB",
// "4096".
func ParseSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("users: %w", err)
	}
	return n, nil
}

// parseSize is ParseSize without the package prefix, for file errors.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := strings.TrimLeft(t, "0123456789")
	num, unit := t[:len(t)-len(digits)], strings.TrimSpace(digits)
	if num == "" {
		if t == "" {
			return 0, errors.New("size is empty")
		}
		return 0, fmt.Errorf("bad size %q: want a whole number of bytes, optionally followed by a unit such as GiB", s)
	}
	mult := int64(1)
	if unit != "" {
		var ok bool
		if mult, ok = unitBytes(unit); !ok {
			if unit[0] == '.' || unit[0] == ',' {
				return 0, fmt.Errorf("bad size %q: fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB", s)
			}
			return 0, fmt.Errorf("bad size %q: unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, unit)
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return n * mult, nil
}
