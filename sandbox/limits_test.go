package sandbox

import (
	"strings"
	"testing"
)

// TestTmpSize checks the /tmp size cap, both the default (mounted while
// the init waits in the pool) and another size (remounted per request).
func TestTmpSize(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	fill := "head -c 3000000 /dev/zero > /tmp/f && echo wrote; df -k /tmp | tail -1"
	r := sh(t, j, l, fill)
	wantOK(t, r)
	if !strings.Contains(r.stdout, "wrote") || !strings.Contains(r.stdout, " 16384 ") {
		t.Errorf("default /tmp: %v", r)
	}
	r = run(t, j, l, func(s *Spec) { s.Limits.TmpSize = 1 << 20 }, "sh", "-c", fill)
	if r.err != nil || strings.Contains(r.stdout, "wrote") || !strings.Contains(r.stdout, " 1024 ") {
		t.Errorf("1 MiB /tmp took 3 MB or has another size: %v", r)
	}
	r = run(t, j, l, func(s *Spec) { s.Limits.TmpSize = 1 << 20 }, "sh", "-c", "stat -c %a /tmp; mount -o remount,size=64m /tmp; touch /tmp/x && echo ok")
	if !strings.HasPrefix(r.stdout, "1777\n") || !strings.Contains(r.stdout, "ok") {
		t.Errorf("resized /tmp: %v", r)
	}
}
