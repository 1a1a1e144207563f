package store

import (
	"context"
	"io"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/stretchr/testify/require"
)

// TestGenesisExportReadsEveryAccountBack loads a genesis large enough that
// the export's iterator crosses many of Pebble's blocks through a small
// block cache, with balances of every length, and reads it back: every
// account, in order, equal to what was loaded. The export once decoded an
// account after moving its iterator on; once Pebble reused the block's
// memory it decoded other bytes, and a follower's load of a 1M-account
// genesis failed with "non-canonical integer" (120k accounts here fail the
// same way on that code; 60k did not).
func TestGenesisExportReadsEveryAccountBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alloc := types.GenesisAlloc{}
	for i := 0; i < 120000; i++ {
		var a common.Address
		for j := range a {
			a[j] = byte(rng.UintN(256))
		}
		bal := new(big.Int).Lsh(big.NewInt(int64(rng.UintN(1<<20))+1), rng.UintN(200))
		acc := types.Account{Balance: bal, Nonce: rng.Uint64N(1 << uint(rng.UintN(40)+1))}
		if i%100 == 0 {
			acc.Storage = map[common.Hash]common.Hash{{1}: {byte(i) | 1}}
		}
		alloc[a] = acc
	}
	cfg := DefaultConfig()
	cfg.BlockCacheBytes = 1 << 20 // blocks are evicted and their memory reused as the export walks on
	s, err := Open(t.TempDir(), cfg, nil)
	require.NoError(t, err)
	defer s.Close()
	src := newAllocSource(alloc)
	_, err = s.LoadGenesis(context.Background(), src, &types.Header{Number: big.NewInt(0), Difficulty: big.NewInt(0)}, nil)
	require.NoError(t, err)
	require.NoError(t, s.Compact()) // into sstables, where the iterator reuses its buffers
	exp, err := s.GenesisState()
	require.NoError(t, err)
	defer exp.Close()
	want := newAllocSource(alloc)
	n := 0
	for {
		got, err := exp.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "account %d", n)
		w, err := want.Next()
		require.NoError(t, err)
		require.Equal(t, w.AddrHash, got.AddrHash, "account %d", n)
		require.Equal(t, w.Account.Balance, got.Account.Balance, "balance of account %d", n)
		require.Equal(t, w.Account.Nonce, got.Account.Nonce, "nonce of account %d", n)
		require.Equal(t, w.Storage != nil, got.Storage != nil, "storage of account %d", n)
		n++
	}
	require.Equal(t, len(alloc), n)
}
