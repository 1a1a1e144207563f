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
	roots := &rootCache{roots: map[uint64]common.Hash{}}
	slots := make([]string, len(cfg.Slots))
	for i, s := range cfg.Slots {
		slots[i] = s.Hex()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errCount  int
		firstErr  error
		maxBlock  = uint64(head)
		wg        sync.WaitGroup
	)
	// one sends one proof request and verifies it; it reports the latency
	// from since, and false when the run must stop.
	one := func(rng *rand.Rand, since time.Time) (time.Duration, bool, error) {
		mu.Lock()
		top := maxBlock
		mu.Unlock()
		n := cfg.MinBlock + rng.Uint64N(top-cfg.MinBlock+1)
		addr := cfg.Addresses[rng.IntN(len(cfg.Addresses))]
		var raw json.RawMessage
		err := cl.CallContext(ctx, &raw, "eth_getProof", addr, slots, hexutil.Uint64(n))
		el := time.Since(since)
		if ctx.Err() != nil {
			return 0, false, nil
		}
		if err != nil {
			return 0, true, err
		}
		root, err := roots.root(ctx, cl, n)
		if err != nil {
			return 0, true, err
		}
		if verr := VerifyAccountResult(raw, root); verr != nil {
			mu.Lock()
			firstErr = errors.Join(firstErr, fmt.Errorf("block %d: %w", n, verr))
			mu.Unlock()
			cancel()
			return 0, false, nil
		}
		return el, true, nil
	}
	record := func(el time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errCount++
			return
		}
		latencies = append(latencies, el)
	}
	start := time.Now()
	if cfg.Rate <= 0 {
		for c := range cfg.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
				for ctx.Err() == nil {
					el, goOn, err := one(rng, time.Now())
					if !goOn {
						return
					}
					record(el, err)
				}
			}()
		}
	} else {
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		sem := make(chan struct{}, cfg.Clients)
		rng := rand.New(rand.NewPCG(cfg.Seed, 0))
		wg.Add(1)
		go func() {
			defer wg.Done()
			timer := time.NewTimer(0)
			defer timer.Stop()
			for k := 0; ; k++ {
				due := start.Add(time.Duration(k) * interval)
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-ctx.Done():
						return
					case <-timer.C:
					}
				}
				select {
				case <-ctx.Done():
					return
				case sem <- struct{}{}:
				}
				reqRng := rand.New(rand.NewPCG(rng.Uint64(), uint64(k)))
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					if el, goOn, err := one(reqRng, due); goOn {
						record(el, err)
					}
				}()
			}
		}()
	}
	// Follow the head so the load spans the growing history.
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				var h hexutil.Uint64
				if cl.CallContext(ctx, &h, "eth_blockNumber") == nil {
					mu.Lock()
					maxBlock = uint64(h)
					mu.Unlock()
				}
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, fmt.Errorf("served proof failed verification: %w", firstErr)
	}
	return &ProofLoadResult{
		Clients:   cfg.Clients,
		Rate:      cfg.Rate,
		Duration:  elapsed,
		Proofs:    len(latencies),
		Errors:    errCount,
		PerSecond: float64(len(latencies)) / elapsed.Seconds(),
		Latency:   Summarize(latencies),
		MinBlock:  cfg.MinBlock,
		MaxBlock:  maxBlock,
		Samples:   latencies,
	}, nil
}
