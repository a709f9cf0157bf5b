package shell

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestExpandLocal(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, n := range []string{"a.pdf", "b.pdf", "c.txt", "[odd].pdf"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := expandLocal([]string{"*.pdf", "c.txt"})
	if want := []string{"[odd].pdf", "a.pdf", "b.pdf", "c.txt"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("expandLocal(*.pdf c.txt) = %q, %v; want %q", got, err, want)
	}
	// A name with glob characters that exists is taken as it is.
	if got, err := expandLocal([]string{"[odd].pdf"}); err != nil || !reflect.DeepEqual(got, []string{"[odd].pdf"}) {
		t.Errorf("expandLocal([odd].pdf) = %q, %v", got, err)
	}
	if _, err := expandLocal([]string{"*.doc"}); err == nil {
		t.Error("a pattern matching nothing gave no error")
	}
}

func TestExpandRemote(t *testing.T) {
	f := newFakeLister()
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"*.pdf"}, []string{"CSC 574.pdf", "report.pdf"}},
		{[]string{"projects/*"}, []string{"projects/old", "projects/plan.txt"}},
		{[]string{"notes.txt", "p*"}, []string{"notes.txt", "photos", "projects"}},
		{[]string{".s*"}, []string{".secret"}},
	}
	for _, tt := range tests {
		got, err := expandRemote(context.Background(), f, tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("expandRemote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := expandRemote(context.Background(), f, []string{"*.doc"}); err == nil {
		t.Error("a remote pattern matching nothing gave no error")
	}
	if _, err := expandRemote(context.Background(), f, []string{"missing/*"}); err == nil {
		t.Error("a pattern in a missing folder gave no error")
	}
}

func TestRemoteIsDir(t *testing.T) {
	f := newFakeLister()
	for _, tt := range []struct {
		p    string
		want bool
	}{{"", true}, {"projects", true}, {"projects/", true}, {"notes.txt", false}, {"missing", false}, {"~", true}, {"projects/old", true}, {"projects/plan.txt", false}} {
		if got := remoteIsDir(context.Background(), f, tt.p); got != tt.want {
			t.Errorf("remoteIsDir(%q) = %v; want %v", tt.p, got, tt.want)
		}
	}
}

func TestTransferArgs(t *testing.T) {
	f, paths, err := transferArgs("upload", []string{"-r", "-q", "--resume", "a", "b", "dir/"})
	if err != nil || !f.recursive || !f.quiet || !f.resume || !reflect.DeepEqual(paths, []string{"a", "b", "dir/"}) {
		t.Errorf("transferArgs = %+v, %q, %v", f, paths, err)
	}
	src, target := splitTarget(paths)
	if !reflect.DeepEqual(src, []string{"a", "b"}) || target != "dir/" {
		t.Errorf("splitTarget = %q, %q", src, target)
	}
	if src, target := splitTarget([]string{"a"}); !reflect.DeepEqual(src, []string{"a"}) || target != "" {
		t.Errorf("splitTarget(one) = %q, %q", src, target)
	}
	if _, paths, _ := transferArgs("upload", []string{"--", "-odd-name"}); !reflect.DeepEqual(paths, []string{"-odd-name"}) {
		t.Errorf("after --: %q", paths)
	}
	if _, _, err := transferArgs("upload", []string{"-x", "a"}); err == nil {
		t.Error("unknown option accepted")
	}
	if _, _, err := transferArgs("upload", nil); err == nil {
		t.Error("no paths accepted")
	}
}
