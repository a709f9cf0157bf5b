package sandbox

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// reportMedian reports the median and p90 of per-iteration times in ms.
func reportMedian(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), "median-ms")
	b.ReportMetric(ms(d[len(d)*9/10]), "p90-ms")
	var total time.Duration
	for _, x := range d {
		total += x
	}
	b.ReportMetric(ms(total)/float64(len(d)), "ms/op")
}

// BenchmarkRunTrue measures a jailed /bin/true, from Run to Run's return.
func BenchmarkRunTrue(b *testing.B) {
	j, l := newTestJail(b), newLayout(b)
	benchTrue(b, j.Run, l)
}

// benchTrue measures /bin/true through run, a Jail's or a Session's Run.
func benchTrue(b *testing.B, run func(context.Context, Spec) (int, error), l *layout) {
	spec := Spec{User: "alice", Home: l.alice, Argv: []string{"/bin/true"}}
	ctx := context.Background()
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		if code, err := run(ctx, spec); code != 0 || err != nil {
			b.Fatalf("Run = %d, %v", code, err)
		}
		d = append(d, time.Since(start))
	}
	reportMedian(b, d)
}

// BenchmarkRunTrueIdle is BenchmarkRunTrue with a pause between runs, as
// between the commands of an interactive user: the pool is refilled before
// each run, so it measures the request path alone.
func BenchmarkRunTrueIdle(b *testing.B) {
	j, l := newTestJail(b), newLayout(b)
	spec := Spec{User: "alice", Home: l.alice, Argv: []string{"/bin/true"}}
	ctx := context.Background()
	var d []time.Duration
	for b.Loop() {
		b.StopTimer()
		time.Sleep(20 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		if code, err := j.Run(ctx, spec); code != 0 || err != nil {
			b.Fatalf("Run = %d, %v", code, err)
		}
		d = append(d, time.Since(start))
	}
	reportMedian(b, d)
}

// BenchmarkExecTrue is the baseline: a bare exec.Command("true").
func BenchmarkExecTrue(b *testing.B) {
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	reportMedian(b, d)
}

// BenchmarkSessionRunTrue measures a jailed /bin/true as a session's later
// command, in its kept jail: compare BenchmarkRunTrue (a fresh jail).
func BenchmarkSessionRunTrue(b *testing.B) {
	j, l := newTestJail(b), newLayout(b)
	s := j.NewSession()
	defer s.Close()
	if r := runIn(b, s, l, nil, "/bin/true"); r.code != 0 || r.err != nil {
		b.Fatalf("first command: %v", r)
	}
	benchTrue(b, s.Run, l)
}
