package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{10 << 20, "10.0 MiB"}, {1 << 30, "1.0 GiB"}, {1<<62 + 1<<61, "6.0 EiB"},
	}
	for _, tt := range tests {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 12345: "12,345", 1234567: "1,234,567", -1000: "-1,000", -999: "-999"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestRateClockETA(t *testing.T) {
	if got := Rate(3<<20, 2*time.Second); got != "1.5 MiB/s" {
		t.Errorf("Rate = %q", got)
	}
	if got := Rate(100, 0); got != "-" {
		t.Errorf("Rate with no time = %q; want -", got)
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "0:00"}, {59 * time.Second, "0:59"}, {61 * time.Second, "1:01"}, {3723 * time.Second, "1:02:03"}, {-time.Second, "0:00"}} {
		if got := Clock(tt.d); got != tt.want {
			t.Errorf("Clock(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
	// A quarter done in 10 s leaves 30 s at the same rate.
	if got := ETA(25, 100, 10*time.Second); got != "0:30" {
		t.Errorf("ETA = %q; want 0:30", got)
	}
	if got := ETA(0, 100, time.Second); got != "--:--" {
		t.Errorf("ETA with nothing done = %q", got)
	}
	for _, tt := range []struct {
		done, total int64
		want        int
	}{{0, 100, 0}, {50, 100, 50}, {99, 100, 99}, {100, 100, 100}, {0, 0, 100}} {
		if got := Percent(tt.done, tt.total); got != tt.want {
			t.Errorf("Percent(%d, %d) = %d; want %d", tt.done, tt.total, got, tt.want)
		}
	}
	if got := Elapsed(300 * time.Millisecond); got != "0.3s" {
		t.Errorf("Elapsed = %q", got)
	}
	if got := Summary(10<<20, 10<<20, 4*time.Second); got != "10.0 MiB in 4.0s, 2.5 MiB/s" {
		t.Errorf("Summary = %q", got)
	}
}

func TestLine(t *testing.T) {
	const name = "CSC 574 Programming_Assignment_1.pdf"
	tests := []struct {
		name        string
		done, total int64
		elapsed     time.Duration
		width       int
		want        []string
		wantBar     bool
	}{
		{name, 5 << 20, 10 << 20, 4 * time.Second, 80, []string{"50%", "5.0 MiB/10.0 MiB", "1.2 MiB/s", "ETA 0:04", "Assignment_1.pdf"}, true},
		{name, 5 << 20, 10 << 20, 4 * time.Second, 120, []string{name, "50%"}, true},
		{"a.txt", 10 << 20, 10 << 20, 2 * time.Second, 80, []string{"a.txt", "100%", "in 0:02", "[==="}, true},
		{"tree", 3 << 20, -1, 2 * time.Second, 80, []string{"tree", "3.0 MiB", "1.5 MiB/s"}, false},
		{name, 1, 2, time.Second, 30, []string{"50%"}, false},
		{name, 1, 2, time.Second, 10, nil, false},
	}
	for _, tt := range tests {
		got := Line(tt.name, tt.done, tt.total, tt.elapsed, tt.width)
		if n := utf8.RuneCountInString(got); n > tt.width {
			t.Errorf("Line(%q, %d, %d, %v, %d) = %q: %d columns, wider than %d", tt.name, tt.done, tt.total, tt.elapsed, tt.width, got, n, tt.width)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Line(%q, %d, %d, %v, %d) = %q; want it to contain %q", tt.name, tt.done, tt.total, tt.elapsed, tt.width, got, w)
			}
		}
		if strings.Contains(got, "[") != tt.wantBar {
			t.Errorf("Line(..., width %d) = %q; bar shown %v, want %v", tt.width, got, !tt.wantBar, tt.wantBar)
		}
		if strings.ContainsAny(got, "\x1b\r\n") {
			t.Errorf("Line = %q contains control characters", got)
		}
	}
}

func TestBarGlyphs(t *testing.T) {
	for _, tt := range []struct {
		done, total int64
		want        string
	}{{0, 10, ">         "}, {5, 10, "=====>    "}, {10, 10, "=========="}, {0, 0, "=========="}} {
		if got := bar(tt.done, tt.total, 10); got != tt.want {
			t.Errorf("bar(%d, %d) = %q; want %q", tt.done, tt.total, got, tt.want)
		}
	}
}

func TestFit(t *testing.T) {
	if got := fit("abcdefghij", 6); got != "...hij" {
		t.Errorf("fit = %q", got)
	}
	if got := fit("abc", 6); got != "abc" {
		t.Errorf("fit = %q", got)
	}
	if got := fit("abcdef", 2); got != "ef" {
		t.Errorf("fit = %q", got)
	}
}

// TestBarThrottle checks that a bar redraws at most once per Interval,
// always at completion, and erases itself on Clear.
func TestBarThrottle(t *testing.T) {
	var buf bytes.Buffer
	b := NewBar(&buf, "f", func() int { return 80 })
	now := b.start
	b.now = func() time.Time { return now }
	for i := int64(1); i <= 100; i++ {
		now = now.Add(10 * time.Millisecond) // 1 s in all: about 10 redraws
		b.Update(i, 100)
	}
	draws := strings.Count(buf.String(), "\r")
	if draws < 9 || draws > 11 {
		t.Errorf("%d redraws in 1 s of updates; want about 10", draws)
	}
	if !strings.Contains(buf.String(), "100%") {
		t.Error("the final state was not drawn")
	}
	buf.Reset()
	b.Clear()
	if buf.String() != "\r\x1b[K" {
		t.Errorf("Clear wrote %q", buf.String())
	}
	buf.Reset()
	b.Clear()
	if buf.Len() != 0 {
		t.Errorf("a second Clear wrote %q", buf.String())
	}
}

// TestTreeBar checks that per-file counts add up across files.
func TestTreeBar(t *testing.T) {
	var buf bytes.Buffer
	b := NewTreeBar(&buf, "tree", 300, nil)
	now := b.start
	b.now = func() time.Time { now = now.Add(time.Second); return now }
	b.Update(50, 100)
	b.Update(100, 100)
	b.Update(100, 200) // the next file: its first chunk
	b.Update(200, 200)
	if !strings.Contains(buf.String(), "300 B/300 B") || !strings.Contains(buf.String(), "100%") {
		t.Errorf("tree bar output %q; want 300 B/300 B at 100%%", buf.String())
	}
}
