package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// batchLines is how many commands one batch runs.
const batchLines = 200

// batchTimeout bounds one whole batch: a login and 200 commands.
const batchTimeout = 2 * time.Minute

// benchBatch compares a batch of 200 `true` in one cubby session, the
// binary run with -b (login included), with 200 sequential `ssh host true`
// over an established multiplexed master. Both are timed as whole wall
// time, alternating, for -rounds rounds after one warm round.
func (b *bench) benchBatch(ctx context.Context) error {
	rounds := b.opt.rounds
	b.logf("batch of %d commands in one session: %d rounds, interleaved", batchLines, rounds)
	c := b.cubbyd
	cubbyBin := filepath.Join(b.bin, "cubby")
	file := filepath.Join(b.tmp, "batch.txt")
	if err := os.WriteFile(file, []byte(strings.Repeat("true\n", batchLines)), 0o644); err != nil {
		return err
	}
	// Pin cubbyd's key outside the measurement, so the timed command needs
	// no --accept-new-host.
	if _, err := timeRun(ctx, benchPassword+"\n", cubbyBin, c.cubbyArgs("true")...); err != nil {
		return err
	}
	args := []string{"-b", file, "--password-stdin", "--known-hosts", c.knownHosts, benchUser + "@" + c.addr}
	mux, stopMaster, err := b.sshd.startMaster(ctx, filepath.Join(b.sshd.dir, "ctl-batch"))
	if err != nil {
		return err
	}
	defer stopMaster()
	keyArgs := []string{"-b", file, "-i", b.sshd.key, "--known-hosts", c.knownHosts, benchUser + "@" + c.addr}
	cubby := &contender{name: fmt.Sprintf("cubby: `cubby -b FILE` (%d × `true`, binary, password login included)", batchLines), run: func(ctx context.Context) (time.Duration, error) {
		return runBatch(ctx, cubbyBin, args)
	}}
	cubbyKey := &contender{name: fmt.Sprintf("cubby: `cubby -b FILE -i KEY` (%d × `true`, binary, key login included)", batchLines), run: func(ctx context.Context) (time.Duration, error) {
		return runBatch(ctx, cubbyBin, keyArgs)
	}}
	ssh := &contender{name: fmt.Sprintf("ssh: %d × `ssh -S CTL host true` over a multiplexed master", batchLines), run: timed(func(ctx context.Context) error {
		for range batchLines {
			if _, err := timeRun(ctx, "", "ssh", append(mux, "true")...); err != nil {
				return err
			}
		}
		return nil
	})}
	cs := []*contender{cubbyKey, cubby, ssh}
	if err := interleave(ctx, rounds, 1, cs); err != nil {
		return err
	}
	t := &table{title: fmt.Sprintf("Batch of %d commands in one session, %d rounds", batchLines, rounds),
		head: []string{"what", "rounds", "median s", "min–max s", "per command ms (median)"}}
	for _, x := range cs {
		t.add(x.name, fmt.Sprint(len(x.d)), secs(x.d.median()), secs(x.d.min())+"–"+secs(x.d.max()), ms(x.d.median()/batchLines))
	}
	t.note("cubby -b with a key/ssh at the median: %s", verdict(ratio(cubbyKey.d.median(), ssh.d.median()), 0.6, true))
	t.note("cubby -b with a password/ssh at the median: %s", verdict(ratio(cubby.d.median(), ssh.d.median()), 0.6, true))
	t.note("cubby's figures are the whole `cubby -b FILE [--password-stdin | -i KEY] --known-hosts F bench@127.0.0.1:PORT` process: start, login (with a password, argon2id included; with a key, the same ed25519 key ssh uses), %d commands, exit; each run is checked for exit status 0 and exactly %d `cubby> true` echo lines on stdout", batchLines, batchLines)
	t.note("ssh's figure is %d ssh client processes, one after another, over a master opened before the timing (its login is not counted); each is checked for exit status 0; one warm round of each side is not recorded", batchLines)
	b.tables = append(b.tables, t)
	return nil
}

// runBatch runs the cubby binary on a batch file and checks that it
// exited 0 and echoed every command.
func runBatch(ctx context.Context, bin string, args []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(benchPassword + "\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("cubby -b: %w: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	echoes := 0
	for _, l := range lines {
		if l == "cubby> true" {
			echoes++
		}
	}
	if echoes != batchLines || len(lines) != batchLines {
		return d, fmt.Errorf("cubby -b: %d echo lines of %d lines on stdout, want %d", echoes, len(lines), batchLines)
	}
	return d, nil
}

// secs formats a duration in seconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
