package session_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
)

// BenchmarkCommandRoundTrip times a jailed `true` in a logged-in session,
// from the request to the exit status at the client, next to a bare
// exec.Command("true") in the same run, and reports medians and the ratio.
//
// The folders case adds a share and a drop box, which each command
// mounts in its jail.
//
//	go test -run=NONE -bench=CommandRoundTrip -benchtime=200x ./session/
func BenchmarkCommandRoundTrip(b *testing.B) {
	b.Run("home", func(b *testing.B) {
		benchCommand(b, startServer(b, jailDataDir(b), withJail(b)))
	})
	b.Run("folders", func(b *testing.B) {
		benchCommand(b, startClassroom(b, jailDataDir(b), withJail(b)).testServer)
	})
}

func benchCommand(b *testing.B, ts *testServer) {
	setCommands(ts, "alice", users.AnyCommand)
	c := ts.dial(b, "alice")
	ctx := context.Background()
	var jailed, bare []time.Duration
	var out bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if code, err := c.Command(ctx, "true", nil, &out, &out); err != nil || code != 0 {
			b.Fatalf("true: %d %v %s", code, err, out.String())
		}
		jailed = append(jailed, time.Since(start))

		start = time.Now()
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(start))
	}
	j, e := median(jailed), median(bare)
	b.ReportMetric(float64(j.Microseconds())/1000, "jailed-ms/p50")
	b.ReportMetric(float64(percentile(jailed, 99).Microseconds())/1000, "jailed-ms/p99")
	b.ReportMetric(float64(e.Microseconds())/1000, "bare-ms/p50")
	b.ReportMetric(float64(j)/float64(e), "jailed/bare")
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
