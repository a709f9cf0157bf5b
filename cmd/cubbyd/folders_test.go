package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFoldersAtServe checks what serve says about the shares and drop
// boxes of its users file: a share of the data directory stops it, and a
// missing share or an extension for no user are logged.
func TestFoldersAtServe(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	data := filepath.Join(dir, "data")
	os.WriteFile(cfg, []byte("[shares.everything]\npath = \""+dir+"\"\n"), 0o600)
	_, errOut, code := cubbyd(t, "", "serve", "--config", cfg, "--data", data, "--listen", "127.0.0.1:0")
	if want := cfg + ":1: shares.everything: " + dir + " overlaps cubbyd's data directory"; code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("serve sharing its data dir: status %d, stderr %q; want %q", code, errOut, want)
	}

	os.WriteFile(cfg, []byte("[shares.handouts]\npath = \""+filepath.Join(dir, "not-yet")+"\"\n\n[dropboxes.hw3]\ndeadline = 2030-01-01T00:00:00Z\nextensions = { zed = 2030-01-02T00:00:00Z }\n"), 0o600)
	srv := startCubbyd(t, "--config", cfg, "--data", data, "--listen", "127.0.0.1:0")
	for _, want := range []string{
		`msg="users file" warning="` + cfg + `:6: dropboxes.hw3.extensions: there is no user \"zed\"; the extension has no effect"`,
		`msg="users file" warning="share handouts: ` + filepath.Join(dir, "not-yet") + `: no such file or directory; ~/handouts stays empty until it exists"`,
	} {
		if !strings.Contains(srv.log.String(), want) {
			t.Errorf("serve log lacks %s:\n%s", want, srv.log)
		}
	}
}

func TestCollectErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	os.WriteFile(cfg, []byte("[dropboxes.hw3]\ndeadline = 2030-01-01T00:00:00Z\n"), 0o600)
	full := filepath.Join(dir, "full")
	os.MkdirAll(filepath.Join(full, "x"), 0o755)
	for _, tt := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"hw4", filepath.Join(dir, "out")}, `cubbyd: ` + cfg + ` has no drop box "hw4" (it has: hw3)`, 1},
		{[]string{"hw3", full}, "cubbyd: " + full + " is not empty; collect into a new or empty folder", 1},
		{[]string{"hw3"}, "collect: want 2 argument(s), got 1", 2},
	} {
		_, errOut, code := cubbyd(t, "", append([]string{"collect", "--config", cfg, "--data", filepath.Join(dir, "data")}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("collect %q: status %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	out, errOut, code := cubbyd(t, "", "collect", "hw3", filepath.Join(dir, "out"), "--config", cfg, "--data", filepath.Join(dir, "data"))
	if code != 0 || out != "hw3: 0 of 0 users submitted (0 late), 0 files, 0 B, into "+filepath.Join(dir, "out")+"\n" {
		t.Errorf("collect of a box nobody used: %d %q %q", code, out, errOut)
	}
}
