package sequencer

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/strata-chain/strata/history"
)

// feedLead is how many blocks past the head the feeder hands the pool load
// for at least: the next block's and the one after, so a block made right
// after its parent finds its load already queued. With Load.Prefill it
// queues up to maxFeedLead blocks ahead, so the first blocks of a run find
// theirs queued before Run makes them.
const (
	feedLead    = 2
	maxFeedLead = 16
)

// loadFeeder is the load generator as a component: from its own goroutine
// it generates block-sized batches of transactions ahead (Load.Prefill of
// them, at least one) and hands each to the sequencer's pool as the load of
// one block, paced by the block clock, the way transactions arriving from
// the network reach the pool. Sequencer.step only takes from the pool: it
// never generates, signs or queues load, nor waits for the feeder.
//
// Invariants:
//   - Block n's batch is queued with Pool.AddFor(…, n): no earlier block
//     takes it, so every block gets one batch of about Load.GasPerSecond ×
//     BlockTime, as when step generated it, however early it was fed.
//   - Block n's batch is fed once the head is at least n-lead and n's slot
//     on the block-time grid is at most lead block times away (lead is
//     Load.Prefill between feedLead and maxFeedLead); never for a block more
//     than the sequencer's downtime behind its slot (blocks made to make up
//     downtime carry no load).
//   - Sequencer.loadFed is the highest block whose batch is in the pool;
//     step reads it to report a block whose load was missing.
//   - While the goroutine runs only it touches the generator and the
//     batches; otherwise feed may (tests make blocks with it, block by
//     block, deterministically).
//   - A refused or dropped load transaction (Pool.Watch counts the drops)
//     makes the feeder remove its senders' transactions from the pool, read
//     their nonces at the head again and discard the batches made ahead.
type loadFeeder struct {
	s     *Sequencer
	g     *loadGen
	gas   uint64 // per block: Load.GasPerSecond × BlockTime
	ahead int    // batches kept generated ahead
	lead  uint64 // blocks past the head the pool holds load for

	// The goroutine's, or feed's caller's when none runs.
	buf       []loadBatch // generated, not yet fed
	fed       []fedBatch  // fed, not yet observed in a block; ascending
	next      uint64      // the next block to feed (at least head+1)
	resync    bool        // a load transaction was refused
	lastError time.Time   // when a failed feed was last logged

	buffered atomic.Int64 // len(buf), for the sequencer's prefill

	mu     sync.Mutex // guards cancel and done
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine returns; nil when none ran
}

// loadBatch is one block's load and its estimated gas.
type loadBatch struct {
	txs      types.Transactions
	estimate uint64
}

// fedBatch is the estimated gas of the batch fed for a block.
type fedBatch struct {
	number, estimate uint64
}

// newLoadFeeder returns the feeder of s's load; it does no I/O and starts
// nothing.
func newLoadFeeder(s *Sequencer, g *loadGen) *loadFeeder {
	return &loadFeeder{
		s:     s,
		g:     g,
		gas:   s.cfg.Load.GasPerSecond * uint64(s.cfg.BlockTime) / uint64(time.Second),
		ahead: max(1, s.cfg.Load.Prefill),
		lead:  uint64(min(max(feedLead, s.cfg.Load.Prefill), maxFeedLead)),
	}
}

// Start starts the feeder's goroutine; it runs until Stop. Starting a
// running feeder does nothing.
func (f *loadFeeder) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running() {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f.cancel, f.done = cancel, done
	go func() {
		defer close(done)
		f.run(ctx)
	}()
	return nil
}

// Stop stops the goroutine and waits for it, or for ctx. Stopping a
// stopped feeder does nothing; a stopped feeder may be started again.
func (f *loadFeeder) Stop(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		return nil
	}
	f.cancel()
	select {
	case <-f.done:
		f.done = nil
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop the load generator: %w", ctx.Err())
	}
}

// Running reports whether the goroutine runs.
func (f *loadFeeder) Running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running()
}

func (f *loadFeeder) running() bool {
	if f.done == nil {
		return false
	}
	select {
	case <-f.done:
		return false
	default:
		return true
	}
}

// Buffered is the number of batches generated and not yet fed.
func (f *loadFeeder) Buffered() int { return int(f.buffered.Load()) }

// run feeds every block that is due and keeps the batches ahead generated,
// then sleeps until the next block is due, the head moves or ctx ends.
func (f *loadFeeder) run(ctx context.Context) {
	for ctx.Err() == nil {
		wake := f.s.headChanged() // before feedDue reads the head: no move is missed
		at, err := f.feedDue(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if time.Since(f.lastError) > 5*time.Second {
				f.lastError = time.Now()
				f.s.log.Warn("The load generator could not feed the pool", "err", err)
			}
			at = f.s.now().Add(f.s.cfg.BlockTime) // try again a block later
		}
		if len(f.buf) < f.ahead {
			f.push(f.generate())
			continue
		}
		var (
			t     *time.Timer
			timer <-chan time.Time
		)
		if !at.IsZero() {
			t = time.NewTimer(at.Sub(f.s.now()))
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// feedDue feeds every block whose time has come and returns when the next
// one is due, or zero if the next must wait for the head to move.
func (f *loadFeeder) feedDue(ctx context.Context) (time.Time, error) {
	for {
		h := f.s.head.Load()
		if h == nil {
			return time.Time{}, nil // no genesis yet
		}
		head := h.Number.Uint64()
		if err := f.settle(head); err != nil {
			return time.Time{}, err
		}
		n := max(f.next, head+1)
		if n > head+f.lead {
			return time.Time{}, nil
		}
		due, now := f.s.blockDue(n), f.s.now()
		if now.Sub(due) > f.s.downtime() {
			return time.Time{}, nil // the sequencer is making up downtime: no load
		}
		if at := due.Add(-time.Duration(f.lead) * f.s.cfg.BlockTime); now.Before(at) {
			return at, nil
		}
		if err := f.feedBlock(ctx, n); err != nil {
			return time.Time{}, err
		}
	}
}

// feed hands the pool the next block's load now, whatever the clock says,
// as the goroutine does when the block's time comes. Only while the
// goroutine does not run.
func (f *loadFeeder) feed(ctx context.Context) error {
	head := f.s.head.Load().Number.Uint64()
	if err := f.settle(head); err != nil {
		return err
	}
	return f.feedBlock(ctx, max(f.next, head+1))
}

// settle corrects the gas estimates with the blocks made up to head, and
// reads the nonces again if a load transaction was refused or dropped.
func (f *loadFeeder) settle(head uint64) error {
	for len(f.fed) > 0 && f.fed[0].number <= head {
		b := f.fed[0]
		f.fed = f.fed[1:]
		hdr, err := f.s.chain.HeaderByNumber(b.number)
		if err != nil {
			return fmt.Errorf("read block %d: %w", b.number, err)
		}
		f.g.correct(hdr.GasUsed, b.estimate)
	}
	if f.s.pool.TakeDropped() > 0 {
		f.s.log.Debug("A load generator transaction was dropped; reading the nonces again")
		f.resync = true
	}
	if !f.resync {
		return nil
	}
	f.s.pool.RemoveSenders(f.g.addrs)
	if err := f.s.withHeadState(func(st history.State) error { return f.g.resync(nonceReader(st)) }); err != nil {
		return fmt.Errorf("read the load accounts' nonces: %w", err)
	}
	f.resync = false
	f.buf, f.fed, f.next = nil, nil, 0
	f.buffered.Store(0)
	f.s.loadFed.Store(min(f.s.loadFed.Load(), head)) // what was queued ahead is gone
	return nil
}

// feedBlock queues block n's batch in the pool.
func (f *loadFeeder) feedBlock(ctx context.Context, n uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b loadBatch
	if len(f.buf) > 0 {
		b = f.buf[0]
		f.buf = f.buf[1:]
		f.buffered.Store(int64(len(f.buf)))
	} else {
		b = f.generate()
	}
	err := f.s.withHeadState(func(st history.State) error {
		env := f.s.headEnv(st)
		for _, tx := range b.txs {
			if err := f.s.pool.AddFor(tx, env, n); err != nil {
				f.s.log.Debug("Load generator transaction refused", "block", n, "err", err)
				f.resync = true // its successors cannot apply: start again from the chain's nonces
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.fed = append(f.fed, fedBatch{number: n, estimate: b.estimate})
	f.next = n + 1
	f.s.loadFed.Store(n)
	return nil
}

// generate makes one block's batch, priced for the block after the head.
func (f *loadFeeder) generate() loadBatch {
	baseFee := big.NewInt(params.InitialBaseFee) // before the genesis
	if h := f.s.head.Load(); h != nil {
		baseFee = eip1559.CalcBaseFee(f.s.config, h, f.s.headerTime(h.Number.Uint64()+1))
	}
	txs, estimate := f.g.batch(f.gas, baseFee)
	return loadBatch{txs: txs, estimate: estimate}
}

func (f *loadFeeder) push(b loadBatch) {
	f.buf = append(f.buf, b)
	f.buffered.Store(int64(len(f.buf)))
}
