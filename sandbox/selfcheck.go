//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// selfCheckScript prints what the self-check asserts on, from inside a jail.
const selfCheckScript = `cat /proc/self/status /proc/self/uid_map /proc/self/gid_map; echo @@; ls -a /proc; echo @@; ls -a /etc; echo @@; ls -a /`

// selfCheck builds one real jail and checks, from inside it, that the
// program has no capabilities, no_new_privs, the intended id map, no host
// /etc and only its own processes.
func (j *Jail) selfCheck() error {
	home, err := os.MkdirTemp("", "cubby-sandbox-probe-")
	if err != nil {
		return fmt.Errorf("sandbox: self-check: %w", err)
	}
	defer os.RemoveAll(home)
	if j.root {
		if err := os.Chown(home, j.cfg.HostUID, j.cfg.HostGID); err != nil {
			return fmt.Errorf("sandbox: self-check: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	probe := func(run func(context.Context, Spec) (int, error)) error {
		var out, errOut bytes.Buffer
		code, err := run(ctx, Spec{
			User: "probe", Home: home, Argv: []string{"sh", "-c", selfCheckScript},
			Stdout: &out, Stderr: &errOut,
		})
		if err != nil {
			return fmt.Errorf("sandbox: self-check jail failed: %w", err)
		}
		if code != 0 {
			return fmt.Errorf("sandbox: self-check exited with %d: %s", code, strings.Join(strings.Fields(errOut.String()), " "))
		}
		return j.verify(out.String())
	}
	if err := probe(j.Run); err != nil {
		return err
	}
	if j.cgroup == nil {
		return nil // no kept jails without a memory cgroup
	}
	// The same check in a kept jail, whose program the keeper started.
	// When it fails, sessions run every command in a fresh jail.
	s := j.NewSession()
	defer s.Close()
	s.runs = 1
	if err := probe(s.Run); err != nil {
		j.noKeep = err.Error()
	} else if s.kept == nil {
		j.noKeep = "sandbox: self-check: the kept jail was given up"
	}
	return nil
}

// verify checks the self-check's output.
func (j *Jail) verify(out string) error {
	parts := strings.Split(out, "@@\n")
	if len(parts) != 4 {
		return fmt.Errorf("sandbox: self-check: unexpected output %q", out)
	}
	status, procs, etc, root := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2]), strings.Fields(parts[3])
	want := map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
		"Uid": "1000\t1000\t1000\t1000", "Gid": "1000\t1000\t1000\t1000",
	}
	if j.seccomp {
		want["Seccomp"] = "2"
	}
	got := map[string]string{}
	var maps []string
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			got[k] = strings.TrimSpace(v)
		} else if f := strings.Fields(line); len(f) == 3 {
			maps = append(maps, strings.Join(f, " "))
		}
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("sandbox: self-check: %s is %q in the jail, want %q", k, got[k], v)
		}
	}
	wantMaps := []string{fmt.Sprintf("1000 %d 1", j.cfg.HostUID), fmt.Sprintf("1000 %d 1", j.cfg.HostGID)}
	if strings.Join(maps, ",") != strings.Join(wantMaps, ",") {
		return fmt.Errorf("sandbox: self-check: id maps are %q, want %q", maps, wantMaps)
	}
	npids := 0
	for _, p := range procs {
		if p[0] >= '0' && p[0] <= '9' {
			npids++
		}
	}
	if npids == 0 || npids > 3 {
		return fmt.Errorf("sandbox: self-check: the jail sees %d processes in /proc, want 1 to 3", npids)
	}
	for _, f := range etc {
		if f == "shadow" || f == "gshadow" || f == "sudoers" {
			return fmt.Errorf("sandbox: self-check: host /etc/%s is visible in the jail", f)
		}
	}
	for _, f := range root {
		if f == "oldroot" || f == "newroot" || f == "root" || f == "var" {
			return fmt.Errorf("sandbox: self-check: /%s is visible in the jail", f)
		}
	}
	return nil
}
