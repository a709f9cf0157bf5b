package session_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session/client"
)

// TestOneGiBTransferFlatMemory moves 1 GiB up and back and checks that the
// process heap (server and client together) never grows by more than
// heapBudget: nothing holds a file in memory.
func TestOneGiBTransferFlatMemory(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	const heapBudget = 64 << 20
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	dir := t.TempDir()
	local := filepath.Join(dir, "big.bin")
	want := writePseudoRandom(t, local, size)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := samplePeakHeap(t)

	ctx := context.Background()
	if _, err := c.Upload(ctx, local, "big.bin", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back.bin")
	if _, err := c.Download(ctx, "big.bin", back, client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	max := peak()
	if grew := int64(max) - int64(base.HeapAlloc); grew > heapBudget {
		t.Errorf("heap grew by %d MiB during a %d MiB transfer; budget %d MiB", grew>>20, size>>20, heapBudget>>20)
	}
	t.Logf("heap: base %d MiB, peak %d MiB for a %d MiB round trip", base.HeapAlloc>>20, max>>20, size>>20)
	for _, p := range []string{filepath.Join(ts.home("alice"), "big.bin"), back} {
		if got := streamSum(t, p); got != want {
			t.Errorf("%s: SHA-256 differs from the source", p)
		}
	}
}

// samplePeakHeap samples HeapAlloc every 10 ms until the returned function
// is called, which reports the largest value seen.
func samplePeakHeap(t *testing.T) func() uint64 {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak
	}
}

// writePseudoRandom writes size incompressible bytes to p without holding
// them in memory and returns their SHA-256.
func writePseudoRandom(t testing.TB, p string, size int64) [32]byte {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	rng := rand.NewChaCha8([32]byte{7})
	if _, err := io.CopyN(w, rng, size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func streamSum(t testing.TB, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
