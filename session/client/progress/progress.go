// Package progress formats the progress of a file transfer: a one-line
// bar redrawn while the transfer runs, and a summary when it ends. The
// formatting functions are pure functions of bytes done, total and time
// elapsed; Bar adds the throttled redrawing on a terminal.
package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Interval is the least time between two redraws of a Bar.
const Interval = 100 * time.Millisecond

// Bytes formats n bytes with binary units: "512 B", "1.5 KiB", "10.0 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Thousands formats n in decimal with commas between groups of three
// digits: "12,345".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := strings.TrimPrefix(s, "-")
	var b strings.Builder
	b.WriteString(s[:len(s)-len(digits)])
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Rate formats the average rate of n bytes moved in elapsed, "1.5 MiB/s".
// A transfer too quick to measure has no rate: "-".
func Rate(n int64, elapsed time.Duration) string {
	if elapsed <= 0 || n <= 0 {
		return "-"
	}
	return Bytes(int64(float64(n)/elapsed.Seconds())) + "/s"
}

// Clock formats a duration as m:ss or h:mm:ss, rounded to the second.
func Clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Elapsed formats the time a finished transfer took: "0.3s", "12s", "2:05".
func Elapsed(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	}
	return Clock(d)
}

// ETA is the time left at the average rate so far, "--:--" when unknown.
func ETA(done, total int64, elapsed time.Duration) string {
	if done <= 0 || total < done || elapsed <= 0 {
		return "--:--"
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return Clock(left)
}

// Percent is done as a whole percentage of total; an empty transfer is
// complete.
func Percent(done, total int64) int {
	if total <= 0 {
		return 100
	}
	if done >= total {
		return 100
	}
	return int(done * 100 / total)
}

// Line is the progress line of a transfer of name, width columns at most:
//
//	report.pdf        42% [=======>          ]   4.2 MiB/10.0 MiB   1.3 MiB/s  ETA 0:05
//
// A total below zero is unknown: the line then shows bytes, rate and
// time only. The name is shortened from the left when the line would not
// fit; the bar takes what room is left, or is left out.
func Line(name string, done, total int64, elapsed time.Duration, width int) string {
	if width <= 0 {
		width = 80
	}
	const minName, minBar, maxBar = 12, 10, 30
	var pct, right string
	if total >= 0 {
		pct = fmt.Sprintf("%4d%%", Percent(done, total))
		eta := "ETA " + ETA(done, total, elapsed)
		if done >= total {
			eta = "in " + Clock(elapsed)
		}
		right = fmt.Sprintf("%9s/%s %11s  %s", Bytes(done), Bytes(total), Rate(done, elapsed), eta)
	} else {
		right = fmt.Sprintf("%9s %11s  %s", Bytes(done), Rate(done, elapsed), Clock(elapsed))
	}
	rest := width - len(pct) - len(right) - 1 // room for the name and " [bar]"
	if rest < minName {
		// A narrow terminal: keep the name, percent and bytes.
		right = Bytes(done)
		rest = width - len(pct) - len(right) - 1
	}
	nameLen := utf8.RuneCountInString(name)
	nameW := max(min(nameLen, rest-minBar-3), minName)
	barW := min(rest-nameW-3, maxBar)
	if pct == "" || barW < minBar {
		barW, nameW = 0, rest
	} else {
		nameW = rest - barW - 3
	}
	nameW = max(nameW, 1)
	name = fit(name, nameW)
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(strings.Repeat(" ", nameW-utf8.RuneCountInString(name)))
	b.WriteString(pct)
	if barW > 0 {
		b.WriteString(" [")
		b.WriteString(bar(done, total, barW))
		b.WriteByte(']')
	}
	b.WriteByte(' ')
	b.WriteString(right)
	out := b.String()
	if utf8.RuneCountInString(out) > width {
		out = string([]rune(out)[:width])
	}
	return out
}

// bar draws done of total in width cells: "=====>    ".
func bar(done, total int64, width int) string {
	filled := width
	if total > 0 && done < total {
		filled = int(done * int64(width) / total)
	}
	if filled >= width {
		return strings.Repeat("=", width)
	}
	return strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1)
}

// fit shortens s to n runes, keeping its end: "...ong-name.pdf".
func fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[len(r)-max(n, 0):])
	}
	return "..." + string(r[len(r)-(n-3):])
}

// Summary describes a finished transfer of size bytes, moved of which
// crossed the network, in elapsed: "10.0 MiB in 7.6s, 1.3 MiB/s".
func Summary(size, moved int64, elapsed time.Duration) string {
	return fmt.Sprintf("%s in %s, %s", Bytes(size), Elapsed(elapsed), Rate(moved, elapsed))
}

// Bar draws a transfer's progress line on a terminal, at most once per
// Interval and always at completion. Its Update method fits
// client.TransferOptions.Progress. A Bar is not safe for concurrent
// use except that Update and Clear may be called from different
// goroutines.
type Bar struct {
	w     io.Writer
	name  string
	width func() int
	now   func() time.Time
	// Total, when set to zero or more, replaces the total Update reports
	// (for a tree, whose size is known before its files are).
	total int64

	mu      sync.Mutex
	start   time.Time
	last    time.Time
	drawn   bool
	base    int64 // bytes of finished files, for trees
	curDone int64
	curTot  int64
}

// NewBar returns a bar for name writing to w; width reports the
// terminal's width (nil means 80 columns).
func NewBar(w io.Writer, name string, width func() int) *Bar {
	return &Bar{w: w, name: name, width: width, now: time.Now, start: time.Now(), total: -2}
}

// NewTreeBar returns a bar for a tree of files: Update's per-file counts
// are added up. total is the size of the whole tree, or -1 if unknown.
func NewTreeBar(w io.Writer, name string, total int64, width func() int) *Bar {
	b := NewBar(w, name, width)
	b.total = total
	return b
}

// Update records done of total bytes and redraws when due.
func (b *Bar) Update(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sum, all := done, total
	if b.total != -2 {
		// A tree: a file's count restarts below the last one, or its
		// total differs, when the next file begins.
		if done < b.curDone || total != b.curTot {
			b.base += b.curTot
		}
		b.curDone, b.curTot = done, total
		sum, all = b.base+done, b.total
	}
	now := b.now()
	if b.drawn && now.Sub(b.last) < Interval && (all < 0 || sum < all) {
		return
	}
	b.last, b.drawn = now, true
	w := 80
	if b.width != nil {
		if n := b.width(); n > 0 {
			w = n
		}
	}
	// Leave the last column free: writing there makes some terminals wrap.
	fmt.Fprintf(b.w, "\r%s\x1b[K", Line(b.name, sum, all, now.Sub(b.start), w-1))
}

// Clear erases the bar, if drawn, so a summary can take its line.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		io.WriteString(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// Elapsed is the time since the bar was made.
func (b *Bar) Elapsed() time.Duration { return b.now().Sub(b.start) }
