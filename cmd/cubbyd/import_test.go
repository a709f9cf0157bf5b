package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserImportCommand runs cubbyd user import in-process: its usage
// errors, --all-or-nothing, and the sheet on stdout.
func TestUserImportCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	roster := filepath.Join(dir, "roster.csv")
	os.WriteFile(roster, []byte("name,email\ns01,s01@example.edu\ns01,again@example.edu\n"), 0o644)
	importCmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"user", "import", "--config", cfg}, args...), nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}

	if _, _, err := importCmd(); exitCode(err) != 2 || !strings.Contains(err.Error(), "cubbyd user import [--config users.toml] [--sheet FILE] [--all-or-nothing] roster.csv") {
		t.Errorf("no roster: %v (exit %d); want the usage, exit 2", err, exitCode(err))
	}

	out, errOut, err := importCmd("--all-or-nothing", roster)
	if err == nil || exitCode(err) != 1 || out != "" || !strings.Contains(errOut, roster+":3: s01 is already on line 2\n") ||
		!strings.Contains(err.Error(), "nothing imported") {
		t.Errorf("--all-or-nothing: err %v, stdout %q, stderr %q", err, out, errOut)
	}
	if _, err := os.Stat(cfg); err == nil {
		t.Error("--all-or-nothing with a bad row wrote the users file")
	}

	out, errOut, err = importCmd(roster)
	if err == nil || !strings.Contains(errOut, "imported 1 user, skipped 0 existing, 1 bad row\n") {
		t.Errorf("import: err %v, stderr %q", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || len(strings.Fields(lines[1])) != 3 || strings.Fields(lines[1])[1] != "s01@example.edu" {
		t.Fatalf("sheet on stdout:\n%s", out)
	}
	if data, _ := os.ReadFile(cfg); !strings.Contains(string(data), "must_change_password = true") || strings.Contains(string(data), strings.Fields(lines[1])[2]) {
		t.Errorf("users file:\n%s", data)
	}
}
