package sandbox

import (
	"strings"
	"testing"
	"time"
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

// TestUsage checks that Run reports what a program used: CPU time that
// grows with the work done, including a child the program waited for.
func TestUsage(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	var idle, busy Usage
	wantOK(t, run(t, j, l, func(s *Spec) { s.Usage = &idle }, "true"))
	// The loop runs in a child sh that the outer sh waits for.
	wantOK(t, run(t, j, l, func(s *Spec) { s.Usage = &busy }, "sh", "-c", "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; echo done"))
	if busy.CPUTime <= idle.CPUTime || busy.CPUTime < 10*time.Millisecond {
		t.Errorf("CPU time: busy loop %v, true %v; want the loop to show", busy.CPUTime, idle.CPUTime)
	}
}
