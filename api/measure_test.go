package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/proofs"
	"github.com/strata-chain/strata/retention"
	"github.com/strata-chain/strata/sequencer"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

type latencies []time.Duration

func (l latencies) at(p float64) time.Duration {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (l latencies) String() string {
	if len(l) == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %s p99 %s max %s (%d calls)", l.at(0.5).Round(10*time.Microsecond), l.at(0.99).Round(10*time.Microsecond), l.at(1).Round(10*time.Microsecond), len(l))
}

// TestMeasureProofHostLatency measures debug_executionWitness and
// debug_dbGet on a chain the sequencer makes at the base-like profile (30
// Mgas per 200 ms block), with retention moving the older blocks into the
// window tier, over HTTP on loopback. It is a measurement, not a check: it
// runs only with STRATA_MEASURE=1. STRATA_MEASURE_BLOCKS (default 96),
// STRATA_MEASURE_ACCOUNTS and STRATA_MEASURE_SLOTS (default 200,000 and
// 1,000,000: the profile's own 1 M / 10 M initial state takes long to load
// on two cores) size it.
func TestMeasureProofHostLatency(t *testing.T) {
	if os.Getenv("STRATA_MEASURE") == "" {
		t.Skip("a measurement: set STRATA_MEASURE=1")
	}
	ctx := context.Background()
	blocks := uint64(envInt(t, "STRATA_MEASURE_BLOCKS", 96))
	const recentSpan, checkpoint = 32, 16
	prof, err := bench.LoadProfile("../configs/profiles/base-like.yaml")
	require.NoError(t, err)
	// The profile's 30 Mgas per 200 ms block, made one a second: two shared
	// cores cannot make and ingest such blocks at 200 ms, and a sequencer
	// that falls behind makes up the time with empty blocks. A witness's
	// cost depends on the block's content, not on the block time.
	cfg := sequencer.DefaultConfig()
	require.NoError(t, prof.Apply(&cfg, cfg.BlockTime))
	cfg.BlockTime = time.Second
	cfg.Load.GasPerSecond = prof.GasPerSecond / 5
	require.NoError(t, cfg.Validate())
	cfg.Load.Prefill = int(blocks) + 8 // every block full, not bounded by signing speed
	cfg.Initial = sequencer.InitialState{Accounts: envInt(t, "STRATA_MEASURE_ACCOUNTS", 200_000), Slots: envInt(t, "STRATA_MEASURE_SLOTS", 1_000_000)}
	scfg := store.DefaultConfig()
	scfg.Retention = store.Retention{Recent: recentSpan, Window: 1 << 20, Checkpoint: checkpoint}
	scfg.Policy = retention.NewPolicy(scfg.Retention)
	// STRATA_MEASURE_DIR keeps the chain for the next run.
	dir := os.Getenv("STRATA_MEASURE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := store.Open(filepath.Join(dir, "store"), scfg, nil)
	require.NoError(t, err)
	defer s.Close()
	var made struct {
		Config     *params.ChainConfig
		LoadedFrom uint64
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "chain.json")); err == nil {
		require.NoError(t, json.Unmarshal(raw, &made))
		t.Logf("the chain of %s: blocks from %d", dir, made.LoadedFrom)
	} else {
		start := time.Now()
		seq, err := sequencer.Open(cfg, s, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		defer func() { _ = seq.Stop(context.Background()) }()
		t.Logf("genesis with %d accounts and %d slots: %s", cfg.Initial.Accounts, cfg.Initial.Slots, time.Since(start).Round(time.Millisecond))
		runCtx, cancel := context.WithCancel(ctx)
		// The sequencer first makes up the time the genesis took with empty
		// blocks; the measured blocks are the loaded ones after.
		var gas, txs, loadedFrom uint64
		seq.OnBlock(func(info sequencer.BlockInfo) {
			if loadedFrom == 0 && info.Txs > 1 {
				loadedFrom = info.Number
			}
			if loadedFrom == 0 {
				return
			}
			gas += info.GasUsed
			txs += uint64(info.Txs)
			if info.Number >= loadedFrom+blocks-1 {
				cancel()
			}
		})
		start = time.Now()
		require.NoError(t, seq.Run(runCtx))
		t.Logf("%d loaded blocks (from block %d) made in %s: %.1f Mgas and %d transactions per block", blocks, loadedFrom, time.Since(start).Round(time.Millisecond), float64(gas)/float64(blocks)/1e6, txs/blocks)
		for {
			res, err := s.Migrate(ctx, 1<<22)
			require.NoError(t, err)
			if !res.More {
				break
			}
		}
		made.Config, made.LoadedFrom = seq.ChainConfig(), loadedFrom
		raw, err := json.Marshal(made)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "chain.json"), raw, 0o644))
	}
	config, loadedFrom := made.Config, made.LoadedFrom
	head, err := s.Head()
	require.NoError(t, err)
	recentFrom := head.Number + 1 - recentSpan

	srv, err := NewRPCServer(Config{ChainConfig: config, Reader: s})
	require.NoError(t, err)
	defer srv.Stop()
	hs, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv, nil)
	require.NoError(t, err)
	defer hs.Close()
	cl, err := rpc.Dial("http://" + hs.HTTPAddr())
	require.NoError(t, err)
	defer cl.Close()

	var recentW, windowW latencies
	var nodes, codes, size int
	witnesses := map[uint64]*stateless.ExtWitness{}
	if path := os.Getenv("STRATA_MEASURE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	for n := loadedFrom + 1; n <= head.Number; n++ {
		var raw json.RawMessage
		t0 := time.Now()
		require.NoError(t, cl.Call(&raw, "debug_executionWitness", hexutil.Uint64(n)), "block %d", n)
		took := time.Since(t0)
		if n-1 >= recentFrom {
			recentW = append(recentW, took) // the parent's state is in the recent tier
		} else {
			windowW = append(windowW, took)
		}
		var ext stateless.ExtWitness
		require.NoError(t, json.Unmarshal(raw, &ext))
		witnesses[n] = &ext
		nodes += len(ext.State)
		codes += len(ext.Codes)
		size += len(raw)
	}
	count := int(head.Number - loadedFrom)
	t.Logf("debug_executionWitness, parent in the recent tier: %s", recentW)
	t.Logf("debug_executionWitness, parent in the window (checkpoint %d, rebuilt between): %s", checkpoint, windowW)
	pprof.StopCPUProfile()
	// The same witnesses without HTTP and JSON: the re-execution alone.
	direct := &backend{cfg: Config{ChainConfig: config, Reader: s}, nodes: newNodeIndex(1<<10, 64)}
	var recentD, windowD, recentCPU, windowCPU latencies
	for n := loadedFrom + 1; n <= head.Number; n++ {
		t0, c0 := time.Now(), cpuTime(t)
		_, err := direct.executionWitness(ctx, rpc.BlockNumberOrHashWithNumber(rpc.BlockNumber(n)))
		require.NoError(t, err)
		took, cpu := time.Since(t0), cpuTime(t)-c0
		if n-1 >= recentFrom {
			recentD, recentCPU = append(recentD, took), append(recentCPU, cpu)
		} else {
			windowD, windowCPU = append(windowD, took), append(windowCPU, cpu)
		}
	}
	t.Logf("the same in process (re-execution and witness, no HTTP or JSON): recent %s; window %s", recentD, windowD)
	t.Logf("CPU time per witness (all threads, GC included; what the machine's load does not inflate): recent %s; window %s", recentCPU, windowCPU)
	t.Logf("witness size: %d nodes, %d codes, %.0f KB of JSON per block", nodes/count, codes/count, float64(size)/float64(count)/1024)

	// What a persistent hash index would add: one key per node version a
	// block writes (hash -> owner, path, block), written at ingest and
	// deleted again when retention drops the version.
	ex := sequencer.NewExecutor(config, s)
	versions, keyBytes := 0, 0
	for n := head.Number - 7; n <= head.Number; n++ {
		block, _ := (&opChain{store: s}).block(t, n)
		parent, err := s.HeaderByNumber(n - 1)
		require.NoError(t, err)
		st, err := s.StateAt(n - 1)
		require.NoError(t, err)
		built, err := ex.Replay(ctx, st, parent, block)
		st.Close()
		require.NoError(t, err)
		for owner, set := range built.Update.Nodes.Sets {
			for path, node := range set.Nodes {
				if node.IsDeleted() {
					continue
				}
				versions++
				// 'h' + hash -> block(8) + owner (32, none for the account
				// trie) + packed path.
				keyBytes += 1 + 32 + 8 + (len(path)+1)/2 + 1
				if owner != (common.Hash{}) {
					keyBytes += 32
				}
			}
		}
	}
	t.Logf("a persistent hash index would add %d keys and %.0f KB of logical bytes per block (8 blocks replayed), before Pebble's per-key overhead", versions/8, float64(keyBytes)/8/1024)

	// Stateless re-execution of a recent and a window block's witness.
	for _, n := range []uint64{head.Number, recentFrom - 2} {
		block, _ := (&opChain{store: s}).block(t, n)
		root, receipts, err := executeStateless(t, config, block, witnesses[n])
		require.NoError(t, err, "block %d", n)
		require.Equal(t, block.Root(), root)
		require.Equal(t, block.ReceiptHash(), receipts)
	}

	// debug_dbGet as a host fetching a block's pre-state: from the parent's
	// state root, parent to child, every node the block's witness holds,
	// on a server that has served nothing else (its index starts empty).
	srv2, err := NewRPCServer(Config{ChainConfig: config, Reader: s})
	require.NoError(t, err)
	defer srv2.Stop()
	hs2, err := Listen(ServerConfig{Addr: "127.0.0.1"}, srv2, nil)
	require.NoError(t, err)
	defer hs2.Close()
	cl2, err := rpc.Dial("http://" + hs2.HTTPAddr())
	require.NoError(t, err)
	defer cl2.Close()
	var recentDB, windowDB latencies
	first := time.Duration(0)
	noted, served := 0, 0
	for _, n := range []uint64{head.Number, head.Number - 5, head.Number - 11, recentFrom - 3, recentFrom - 9, recentFrom - 20} {
		parent, err := s.HeaderByNumber(n - 1)
		require.NoError(t, err)
		want := map[common.Hash][]byte{}
		for _, b := range witnesses[n].State {
			want[crypto.Keccak256Hash(b)] = b
		}
		fetched := 0
		queue := []proofs.NodeRef{{Hash: parent.Root}}
		seen := map[common.Hash]bool{}
		for len(queue) > 0 {
			ref := queue[0]
			queue = queue[1:]
			if seen[ref.Hash] {
				continue
			}
			seen[ref.Hash] = true
			var blob hexutil.Bytes
			t0 := time.Now()
			require.NoError(t, cl2.Call(&blob, "debug_dbGet", ref.Hash.Hex()), "block %d: node %s", n, ref.Hash)
			took := time.Since(t0)
			if first == 0 {
				first = took // includes the first scan of the newest headers
			} else if n-1 >= recentFrom {
				recentDB = append(recentDB, took)
			} else {
				windowDB = append(windowDB, took)
			}
			require.Equal(t, want[ref.Hash], []byte(blob))
			fetched++
			node, err := proofs.DecodeNode(ref.Owner, ref.Path, blob)
			require.NoError(t, err)
			noted += len(node.Refs)
			served++
			for _, r := range node.Refs {
				if _, ok := want[r.Hash]; ok {
					queue = append(queue, r)
				}
			}
		}
		require.Equal(t, len(want), fetched, "block %d: every witness node reached by hash from the root", n)
	}
	t.Logf("debug_dbGet (first call, with the header scan: %s), state in the recent tier: %s", first.Round(time.Microsecond), recentDB)
	t.Logf("debug_dbGet, state in the window: %s", windowDB)
	t.Logf("node index: %d references noted for %d nodes served (%.0f per block walked)", noted, served, float64(noted)/6)
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMeasureNodeIndexMemory measures the heap one node-index reference
// takes (STRATA_MEASURE=1).
func TestMeasureNodeIndexMemory(t *testing.T) {
	if os.Getenv("STRATA_MEASURE") == "" {
		t.Skip("a measurement: set STRATA_MEASURE=1")
	}
	const n = 200_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x := newNodeIndex(n, 1)
	for i := 0; i < n; i++ {
		var h common.Hash
		h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
		path := make([]byte, 6+i%8) // a typical depth: 6 to 13 nibbles
		x.noteRefs(uint64(i), []proofs.NodeRef{{Hash: crypto.Keccak256Hash(h[:]), Owner: h, Path: path}})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, n, x.refs.Len())
	t.Logf("node index: %.0f bytes of heap per reference (%d references: %.1f MB)", float64(after.HeapAlloc-before.HeapAlloc)/n, n, float64(after.HeapAlloc-before.HeapAlloc)/1e6)
	runtime.KeepAlive(x)
}
