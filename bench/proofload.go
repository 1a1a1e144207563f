package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
)

// ProofLoadConfig describes a closed-loop proof load: Clients goroutines each
// send eth_getProof back to back for Duration.
type ProofLoadConfig struct {
	URL       string
	Clients   int
	Duration  time.Duration
	Seed      uint64
	Addresses []common.Address // accounts to prove; absent ones give exclusion proofs
	Slots     []common.Hash    // storage keys asked with every proof
	// MinBlock is the oldest block asked for; blocks are drawn uniformly
	// from [MinBlock, head] with the head re-read as the chain grows.
	MinBlock uint64
	// Rate, when positive, switches to an open loop at that many requests
	// per second with at most Clients in flight.
	Rate float64
}

// ProofLoadResult is what a proof load measured.
type ProofLoadResult struct {
	Clients   int             `json:"clients"`
	Duration  time.Duration   `json:"duration_ns"`
	Proofs    int             `json:"proofs"`
	Errors    int             `json:"errors"`
	PerSecond float64         `json:"proofs_per_second"`
	Latency   Summary         `json:"latency"`
	MinBlock  uint64          `json:"min_block"`
	MaxBlock  uint64          `json:"max_block"`
	Rate      float64         `json:"rate_per_second,omitempty"` // open loop; zero for a closed loop
	Samples   []time.Duration `json:"-"`                         // every latency, for CDF plots
}

// accountResult mirrors the JSON of eth_getProof.
type accountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []hexutil.Bytes `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []struct {
		Key   string          `json:"key"`
		Value *hexutil.Big    `json:"value"`
		Proof []hexutil.Bytes `json:"proof"`
	} `json:"storageProof"`
}

// VerifyAccountResult checks a raw eth_getProof answer against stateRoot: the
// account proof proves exactly the returned account (or its absence), and each
// storage proof proves the returned value against the returned storageHash.
func VerifyAccountResult(raw json.RawMessage, stateRoot common.Hash) error {
	var res accountResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode proof: %w", err)
	}
	db := memorydb.New()
	for _, n := range res.AccountProof {
		db.Put(crypto.Keccak256(n), n)
	}
	key := crypto.Keccak256(res.Address[:])
	val, err := trie.VerifyProof(stateRoot, key, db)
	if err != nil {
		return fmt.Errorf("account proof of %s: %w", res.Address, err)
	}
	if val == nil {
		if res.Nonce != 0 || res.Balance.ToInt().Sign() != 0 || res.StorageHash != (common.Hash{}) || res.CodeHash != (common.Hash{}) {
			return fmt.Errorf("account %s proven absent but answered with fields", res.Address)
		}
		return nil
	}
	var acc types.StateAccount
	if err := rlp.DecodeBytes(val, &acc); err != nil {
		return fmt.Errorf("proven account %s: %w", res.Address, err)
	}
	if acc.Nonce != uint64(res.Nonce) || acc.Balance.ToBig().Cmp(res.Balance.ToInt()) != 0 ||
		acc.Root != res.StorageHash || common.BytesToHash(acc.CodeHash) != res.CodeHash {
		return fmt.Errorf("account %s: answered fields differ from the proven account", res.Address)
	}
	for _, sp := range res.StorageProof {
		if len(sp.Proof) == 0 {
			if acc.Root != types.EmptyRootHash || sp.Value.ToInt().Sign() != 0 {
				return fmt.Errorf("slot %s of %s: empty proof for a non-empty storage", sp.Key, res.Address)
			}
			continue
		}
		sdb := memorydb.New()
		for _, n := range sp.Proof {
			sdb.Put(crypto.Keccak256(n), n)
		}
		k, err := hexutil.Decode(sp.Key)
		if err != nil || len(k) > 32 {
			kb, ok := new(big.Int).SetString(sp.Key, 0)
			if !ok {
				return fmt.Errorf("slot key %q: not hex", sp.Key)
			}
			k = kb.Bytes()
		}
		sv, err := trie.VerifyProof(acc.Root, crypto.Keccak256(common.LeftPadBytes(k, 32)), sdb)
		if err != nil {
			return fmt.Errorf("storage proof %s of %s: %w", sp.Key, res.Address, err)
		}
		var got []byte
		if sv != nil {
			if _, content, _, err := rlp.Split(sv); err == nil {
				got = content
			}
		}
		if new(big.Int).SetBytes(got).Cmp(sp.Value.ToInt()) != 0 {
			return fmt.Errorf("slot %s of %s: answered %s, proven %x", sp.Key, res.Address, sp.Value, got)
		}
	}
	return nil
}

// rootCache maps block numbers to state roots read from the server.
type rootCache struct {
	mu    sync.Mutex
	roots map[uint64]common.Hash
}

func (c *rootCache) root(ctx context.Context, cl *rpc.Client, n uint64) (common.Hash, error) {
	c.mu.Lock()
	r, ok := c.roots[n]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	var hdr struct {
		Root common.Hash `json:"stateRoot"`
	}
	if err := cl.CallContext(ctx, &hdr, "eth_getBlockByNumber", hexutil.Uint64(n), false); err != nil {
		return common.Hash{}, err
	}
	c.mu.Lock()
	c.roots[n] = hdr.Root
	c.mu.Unlock()
	return hdr.Root, nil
}

// RunProofLoad sends eth_getProof for random accounts (with cfg.Slots) at
// random blocks in [MinBlock, head] and verifies every answer against the
// block's state root from eth_getBlockByNumber; one failed verification
// fails the run. With Rate zero it is a closed loop: Clients goroutines send
// back to back. With Rate > 0 requests are scheduled at that constant rate
// (at most Clients in flight... and any number queued), and each latency is
// measured from the scheduled time, so a slow server cannot hide its tail
// by slowing the load down (no coordinated omission).
func RunProofLoad(ctx context.Context, cfg ProofLoadConfig) (*ProofLoadResult, error) {
	if cfg.Clients <= 0 || cfg.Duration <= 0 || len(cfg.Addresses) == 0 {
		return nil, errors.New("proof load needs clients > 0, duration > 0 and addresses")
	}
	cl, err := rpc.DialContext(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.URL, err)
	}
	defer cl.Close()
	var head hexutil.Uint64
	if err := cl.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
		return nil, fmt.Errorf("eth_blockNumber: %w", err)
	}
	if uint64(head) < cfg.MinBlock {
		return nil, fmt.Errorf("head %d is below the oldest block to prove %d", head, cfg.MinBlock)
	}
	l := &proofLoad{cfg: cfg, cl: cl, roots: &rootCache{roots: map[uint64]common.Hash{}}, maxBlock: uint64(head)}
	for _, s := range cfg.Slots {
		l.slots = append(l.slots, s.Hex())
	}
	l.ctx, l.cancel = context.WithTimeout(ctx, cfg.Duration)
	defer l.cancel()
	start := time.Now()
	if cfg.Rate <= 0 {
		l.closedLoop()
	} else {
		l.openLoop(start)
	}
	go l.followHead()
	l.wg.Wait()
	return l.result(time.Since(start))
}

// proofLoad is one RunProofLoad in progress. Its figures are guarded by
// mu; ctx ends at the load's duration or at the first failed verification.
type proofLoad struct {
	cfg    ProofLoadConfig
	cl     *rpc.Client
	roots  *rootCache
	slots  []string // cfg.Slots as hex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the senders

	mu        sync.Mutex
	latencies []time.Duration
	errCount  int
	firstErr  error  // failed verifications
	maxBlock  uint64 // the newest block asked for, following the head
}

// one sends one proof request and verifies it; it reports the latency from
// since, and false when the run must stop (the load is over, or an answer
// failed verification).
func (l *proofLoad) one(rng *rand.Rand, since time.Time) (time.Duration, bool, error) {
	l.mu.Lock()
	top := l.maxBlock
	l.mu.Unlock()
	n := l.cfg.MinBlock + rng.Uint64N(top-l.cfg.MinBlock+1)
	addr := l.cfg.Addresses[rng.IntN(len(l.cfg.Addresses))]
	var raw json.RawMessage
	err := l.cl.CallContext(l.ctx, &raw, "eth_getProof", addr, l.slots, hexutil.Uint64(n))
	el := time.Since(since)
	if l.ctx.Err() != nil {
		return 0, false, nil
	}
	if err != nil {
		return 0, true, err
	}
	root, err := l.roots.root(l.ctx, l.cl, n)
	if err != nil {
		return 0, true, err
	}
	if verr := VerifyAccountResult(raw, root); verr != nil {
		l.mu.Lock()
		l.firstErr = errors.Join(l.firstErr, fmt.Errorf("block %d: %w", n, verr))
		l.mu.Unlock()
		l.cancel()
		return 0, false, nil
	}
	return el, true, nil
}

// record counts one answered request: its latency, or an error.
func (l *proofLoad) record(el time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errCount++
		return
	}
	l.latencies = append(l.latencies, el)
}

// closedLoop starts Clients senders that each send back to back.
func (l *proofLoad) closedLoop() {
	for c := range l.cfg.Clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(c)))
			for l.ctx.Err() == nil {
				el, goOn, err := l.one(rng, time.Now())
				if !goOn {
					return
				}
				l.record(el, err)
			}
		}()
	}
}

// openLoop starts the scheduler of the open loop: request k is due at
// start + k/Rate and waits for one of Clients slots; its latency counts
// from when it was due.
func (l *proofLoad) openLoop(start time.Time) {
	interval := time.Duration(float64(time.Second) / l.cfg.Rate)
	sem := make(chan struct{}, l.cfg.Clients)
	rng := rand.New(rand.NewPCG(l.cfg.Seed, 0))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for k := 0; ; k++ {
			due := start.Add(time.Duration(k) * interval)
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-l.ctx.Done():
					return
				case <-timer.C:
				}
			}
			select {
			case <-l.ctx.Done():
				return
			case sem <- struct{}{}:
			}
			reqRng := rand.New(rand.NewPCG(rng.Uint64(), uint64(k)))
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer func() { <-sem }()
				if el, goOn, err := l.one(reqRng, due); goOn {
					l.record(el, err)
				}
			}()
		}
	}()
}

// followHead re-reads the head every second until the load ends, so the
// load spans the growing history.
func (l *proofLoad) followHead() {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tk.C:
			var h hexutil.Uint64
			if l.cl.CallContext(l.ctx, &h, "eth_blockNumber") == nil {
				l.mu.Lock()
				l.maxBlock = uint64(h)
				l.mu.Unlock()
			}
		}
	}
}

// result is the load's figures over elapsed, or the failed verifications.
func (l *proofLoad) result(elapsed time.Duration) (*ProofLoadResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstErr != nil {
		return nil, fmt.Errorf("served proof failed verification: %w", l.firstErr)
	}
	return &ProofLoadResult{
		Clients:   l.cfg.Clients,
		Rate:      l.cfg.Rate,
		Duration:  elapsed,
		Proofs:    len(l.latencies),
		Errors:    l.errCount,
		PerSecond: float64(len(l.latencies)) / elapsed.Seconds(),
		Latency:   Summarize(l.latencies),
		MinBlock:  l.cfg.MinBlock,
		MaxBlock:  l.maxBlock,
		Samples:   l.latencies,
	}, nil
}
