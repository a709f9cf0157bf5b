package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// durations are the samples of one measured operation.
type durations []time.Duration

// pct returns the p-th percentile (0 < p ≤ 100) by nearest rank.
func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (d durations) median() time.Duration { return d.pct(50) }
func (d durations) min() time.Duration    { return slices.Min(d) }
func (d durations) max() time.Duration    { return slices.Max(d) }

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// rates are throughput samples in MiB/s.
type rates []float64

func (r rates) median() float64 {
	if len(r) == 0 {
		return 0
	}
	s := slices.Clone(r)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r rates) span() string {
	if len(r) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f–%.0f", slices.Min(r), slices.Max(r))
}

func mibps(size int64, d time.Duration) float64 {
	return float64(size) / (1 << 20) / d.Seconds()
}

// verdict says whether a ratio meets a target: at most (le) or at least.
func verdict(ratio, target float64, le bool) string {
	ok := ratio >= target
	rel := "≥"
	if le {
		ok, rel = ratio <= target, "≤"
	}
	mark := "MISSED"
	if ok {
		mark = "met"
	}
	return fmt.Sprintf("%.2f (target %s %.2f: %s)", ratio, rel, target, mark)
}

// table is one block of results.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func (t *table) text(w io.Writer) {
	fmt.Fprintln(w, "== "+t.title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintln(w, "  * "+n)
	}
}

func (t *table) markdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", t.title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.head, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(t.head)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}
