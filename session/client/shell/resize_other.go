//go:build !unix

package shell

import "time"

// watchResize polls for a changed window size, where no signal tells
// (Windows), calling fn twice a second until stop is called; fn does
// nothing when the size is the same.
func watchResize(fn func()) (stop func()) {
	tick := time.NewTicker(500 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-tick.C:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() {
		tick.Stop()
		close(done)
	}
}
