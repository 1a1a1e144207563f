package sequencer

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixedClock makes a sequencer's genesis reproducible.
func newTestSequencer(t *testing.T, cfg Config, s *store.Store) *Sequencer {
	t.Helper()
	seq, err := newWithClock(cfg, s, quiet, func() time.Time { return time.UnixMilli(1_700_000_000_000) })
	require.NoError(t, err)
	require.NoError(t, seq.Start(context.Background()))
	return seq
}

func TestLoadBlocksAreDeterministicAndValid(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.Accounts = 8
	cfg.Initial = InitialState{Accounts: 500, Slots: 800}
	run := func() []common.Hash {
		s, err := store.OpenMem(store.DefaultConfig())
		require.NoError(t, err)
		defer s.Close()
		seq := newTestSequencer(t, cfg, s)
		var hashes []common.Hash
		kinds := map[string]int{}
		for i := 0; i < 30; i++ {
			info, err := seq.stepFed(context.Background(), time.UnixMilli(int64(seq.BlockMillis(uint64(i+1)))))
			require.NoError(t, err)
			hashes = append(hashes, info.Hash)
			require.Positive(t, info.Txs, "block %d carries the load", info.Number)
			// The load is about gas_per_second × block time.
			require.InDelta(t, float64(cfg.Load.GasPerSecond)/5, float64(info.GasUsed), float64(cfg.Load.GasPerSecond)/5*0.5)
			receipts, err := s.Receipts(info.Number)
			require.NoError(t, err)
			body, err := s.Body(info.Number)
			require.NoError(t, err)
			for j, r := range receipts {
				require.Equal(t, types.ReceiptStatusSuccessful, r.Status, "block %d tx %d", info.Number, j)
				tx := body[j]
				switch {
				case tx.To() == nil:
					kinds["create"]++
				case *tx.To() == MessagePasserAddress:
					kinds["withdrawal"]++
				case *tx.To() == StorageContractAddress:
					kinds["storage"]++
				case *tx.To() == TokenAddress:
					kinds["erc20"]++
				case slices.Contains(PoolAddresses, *tx.To()):
					kinds["amm"]++
				default:
					kinds["transfer"]++
				}
			}
			h, err := s.HeaderByNumber(info.Number)
			require.NoError(t, err)
			require.Equal(t, seq.BlockMillis(info.Number)/1000, h.Time, "seconds policy")
		}
		for _, k := range []string{"create", "withdrawal", "storage", "transfer", "erc20", "amm"} {
			require.Positive(t, kinds[k], "load has %s transactions", k)
		}
		require.Zero(t, seq.PoolLen(), "everything offered was included")
		return hashes
	}
	require.Equal(t, run(), run(), "the same seed makes the same chain")
}

func TestTimestampPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy TimestampPolicy
		want   func(ms uint64) uint64
	}{
		{TimestampSeconds, func(ms uint64) uint64 { return ms / 1000 }},
		{TimestampMilliseconds, func(ms uint64) uint64 { return ms }},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Load.GasPerSecond = 0
			cfg.TimestampPolicy = tc.policy
			s, err := store.OpenMem(store.DefaultConfig())
			require.NoError(t, err)
			defer s.Close()
			seq := newTestSequencer(t, cfg, s)
			var times []uint64
			for i := uint64(1); i <= 7; i++ {
				info, err := seq.step(context.Background(), time.Now())
				require.NoError(t, err)
				require.Equal(t, 1, info.Txs, "a block without user transactions is still made, with its L1-attributes deposit")
				h, err := s.HeaderByNumber(i)
				require.NoError(t, err)
				require.Equal(t, tc.want(1_700_000_000_000+i*200), h.Time)
				times = append(times, h.Time)
			}
			if tc.policy == TimestampSeconds {
				require.Equal(t, times[0], times[3], "blocks within a second share a timestamp")
				require.Equal(t, times[0]+1, times[4])
			}
		})
	}
}

func TestRunMakesBlocksAndResumes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BlockTime = 20 * time.Millisecond
	cfg.Load.GasPerSecond = 50_000_000
	cfg.Load.Accounts = 4
	dir := t.TempDir()
	s, err := store.Open(dir, store.DefaultConfig(), quiet)
	require.NoError(t, err)
	seq, err := Open(cfg, s, quiet)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	seq.OnBlock(func(info BlockInfo) {
		seen++
		if seen == 15 {
			cancel()
		}
	})
	require.NoError(t, seq.Run(ctx))
	head, err := s.Head()
	require.NoError(t, err)
	require.GreaterOrEqual(t, head.Number, uint64(15))
	require.NoError(t, s.Close())

	// A restart resumes from the stored head.
	s, err = store.Open(dir, store.DefaultConfig(), quiet)
	require.NoError(t, err)
	defer s.Close()
	seq, err = Open(cfg, s, quiet)
	require.NoError(t, err)
	require.Equal(t, head.Number, seq.Head().Number.Uint64())
	ctx, cancel = context.WithCancel(context.Background())
	seq.OnBlock(func(info BlockInfo) {
		require.Equal(t, head.Number+1, info.Number)
		cancel()
	})
	require.NoError(t, seq.Run(ctx))

	// Another configuration is another chain.
	other := cfg
	other.DevAccounts = 3
	_, err = Open(other, s, quiet)
	require.ErrorContains(t, err, "the store holds another chain")
}

func TestSubmitTransaction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load.GasPerSecond = 0
	s, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer s.Close()
	seq := newTestSequencer(t, cfg, s)
	key := DevKeys(1)[0]
	poor, _ := crypto.GenerateKey()
	to := common.HexToAddress("0x77")
	mk := func(k int, nonce uint64, chainID *big.Int, value *big.Int) *types.Transaction {
		kk := key
		if k == 1 {
			kk = poor
		}
		return types.MustSignNewTx(kk, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
			ChainID: chainID, Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Gas: 21_000, To: &to, Value: value,
		})
	}
	good := mk(0, 0, seq.ChainConfig().ChainID, big.NewInt(1))
	require.NoError(t, seq.SubmitTransaction(good))
	require.ErrorIs(t, seq.SubmitTransaction(good), ErrAlreadyKnown)
	require.ErrorIs(t, seq.SubmitTransaction(mk(1, 0, seq.ChainConfig().ChainID, big.NewInt(1))), core.ErrInsufficientFunds)
	require.ErrorIs(t, seq.SubmitTransaction(mk(0, 0, big.NewInt(1), big.NewInt(1))), types.ErrInvalidChainId)
	// A queued successor waits for its predecessor.
	require.NoError(t, seq.SubmitTransaction(mk(0, 1, seq.ChainConfig().ChainID, big.NewInt(2))))
	require.NoError(t, seq.SubmitTransaction(mk(0, 3, seq.ChainConfig().ChainID, big.NewInt(3))))

	info, err := seq.step(context.Background(), time.Now())
	require.NoError(t, err)
	require.Equal(t, 1+2, info.Txs, "the L1-attributes deposit and two transfers")
	require.Equal(t, 1, seq.PoolLen(), "nonce 3 waits for nonce 2")
	require.ErrorIs(t, seq.SubmitTransaction(good), core.ErrNonceTooLow)
	require.NoError(t, seq.SubmitTransaction(mk(0, 2, seq.ChainConfig().ChainID, big.NewInt(4))))
	info, err = seq.step(context.Background(), time.Now())
	require.NoError(t, err)
	require.Equal(t, 1+2, info.Txs)
	require.Zero(t, seq.PoolLen())
}

// TestPrefilledLoad has the generator sign blocks of load before the genesis
// fixes the clock: the first blocks find their load ready.
func TestPrefilledLoad(t *testing.T) {
	seq := openLoaded(t, 20*time.Millisecond, 4, 8)
	ctx, cancel := context.WithCancel(context.Background())
	var infos []BlockInfo
	seq.OnBlock(func(info BlockInfo) {
		infos = append(infos, info)
		if len(infos) == 6 {
			cancel()
		}
	})
	require.NoError(t, seq.Run(ctx))
	for _, info := range infos {
		require.False(t, info.LoadMissed, "block %d", info.Number)
		require.Positive(t, info.Txs, "block %d", info.Number)
	}
}
