package bench

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampler tracks the peak resident set size of this process while it
// runs, sampling /proc/self/statm; the kernel's own peak (getrusage) covers
// the whole process life, not one run.
type rssSampler struct {
	once sync.Once
	quit chan struct{}
	done chan uint64
}

func newRSSSampler() *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		peak := currentRSS()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-s.quit:
				s.done <- max(peak, currentRSS())
				return
			case <-tk.C:
				peak = max(peak, currentRSS())
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peak; later calls return 0.
func (s *rssSampler) stop() uint64 {
	var peak uint64
	s.once.Do(func() {
		close(s.quit)
		peak = <-s.done
	})
	return peak
}

func currentRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
