package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/strata-chain/strata/catchup"
)

// ReplayResult summarises a catch-up replay (`strata catchup`).
type ReplayResult struct {
	Blocks  uint64
	Txs     int
	Elapsed time.Duration
	Speed   float64 // multiple of real time
	Prepare time.Duration
	Commit  time.Duration
	Wait    time.Duration
	// CPU is the process's CPU time over the replay (0 where not measured):
	// replay, writes, Pebble's compactions and, for a datadir source,
	// reading it.
	CPU   time.Duration
	Cores int // GOMAXPROCS
}

// Rate is the replay's blocks per second.
func (r ReplayResult) Rate() float64 { return float64(r.Blocks) / r.Elapsed.Seconds() }

func (r ReplayResult) String() string {
	s := fmt.Sprintf("replayed %d blocks (%d txs) in %s: %.1f blocks/s, %.1fx real time (replay %s, commit %s, waiting for the source %s; replay and commit overlap)",
		r.Blocks, r.Txs, r.Elapsed.Round(time.Millisecond), r.Rate(), r.Speed, r.Prepare.Round(time.Millisecond),
		r.Commit.Round(time.Millisecond), r.Wait.Round(time.Millisecond))
	if r.CPU > 0 && r.Blocks > 0 && r.Elapsed > 0 {
		// What bounds the speed: at this CPU cost per block, all cores busy
		// would replay Cores/perBlock blocks a second.
		perBlock := r.CPU / time.Duration(r.Blocks)
		s += fmt.Sprintf("; CPU %s = %s per block, %.2f of %d cores busy", r.CPU.Round(time.Millisecond), perBlock.Round(10*time.Microsecond),
			r.CPU.Seconds()/r.Elapsed.Seconds(), r.Cores)
	}
	return s
}

// MeasureReplay runs catch-up of the store (at head) up to block to and
// measures it, showing each committed batch on p (rate, multiple of real
// time at blockTime, ETA). The result holds what was replayed even when
// catch-up stopped with an error.
func MeasureReplay(ctx context.Context, cfg catchup.Config, st catchup.Store, src catchup.Source, to uint64, blockTime time.Duration, p *CountProgress) (ReplayResult, error) {
	res := ReplayResult{Cores: runtime.GOMAXPROCS(0)}
	start, cpu := time.Now(), ProcessCPU()
	err := catchup.Run(ctx, cfg, st, src, to, func(b catchup.Batch) {
		res.Blocks, res.Txs = b.Done, res.Txs+b.Txs
		res.Prepare += b.Prepare
		res.Commit += b.Commit
		res.Wait += b.Wait
		speed := b.Rate() * blockTime.Seconds()
		p.Update(b.Done, b.Rate(), fmt.Sprintf("%.0f blocks/s %.1fx real time head %d", b.Rate(), speed, b.To))
	})
	p.Done()
	res.Elapsed = time.Since(start)
	if cpu > 0 {
		res.CPU = ProcessCPU() - cpu
	}
	res.Speed = res.Rate() * blockTime.Seconds()
	return res, err
}
