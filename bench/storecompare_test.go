package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/stretchr/testify/require"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/historytest"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/store/archive"
)

// modelChain is a historytest chain as a RecordedChain: its genesis comes
// from the model of block 0, its blocks from the updates it drew.
type modelChain struct {
	g       *historytest.Chain
	updates []*history.BlockUpdate
}

func newModelChain(seed uint64, blocks int) *modelChain {
	c := &modelChain{g: historytest.NewChain(seed)}
	for range blocks + 1 {
		c.updates = append(c.updates, c.g.Next())
	}
	return c
}

func (c *modelChain) Head(context.Context) (*types.Header, error) {
	return c.g.Headers[len(c.g.Headers)-1], nil
}
func (c *modelChain) Header(_ context.Context, n uint64) (*types.Header, error) {
	return c.g.Headers[n], nil
}
func (c *modelChain) UpdateAt(n uint64) (*history.BlockUpdate, error) { return c.updates[n], nil }

func (c *modelChain) Genesis(context.Context) (history.GenesisSource, func(), error) {
	m := c.g.States[0]
	var accs []*history.GenesisAccount
	for _, a := range history.SortedHashes(m) {
		acc := m[a]
		ga := &history.GenesisAccount{AddrHash: a, Account: history.Account{Nonce: acc.Nonce, Balance: acc.Balance, CodeHash: acc.CodeHash}}
		if len(acc.Storage) > 0 {
			slots := acc.Storage
			ga.Storage = func(yield func(k, v common.Hash) error) error {
				for _, k := range history.SortedHashes(slots) {
					if v := slots[k]; v != (common.Hash{}) {
						if err := yield(k, v); err != nil {
							return err
						}
					}
				}
				return nil
			}
		}
		accs = append(accs, ga)
	}
	return &sliceGenesis{accs: accs}, func() {}, nil
}

type sliceGenesis struct {
	accs []*history.GenesisAccount
	i    int
}

func (s *sliceGenesis) Next() (*history.GenesisAccount, error) {
	if s.i == len(s.accs) {
		return nil, io.EOF
	}
	s.i++
	return s.accs[s.i-1], nil
}

type testV1 struct{ *store.Store }

func (testV1) Lines() map[string]uint64         { return nil }
func (testV1) Phases() map[string]time.Duration { return nil }

type testV2 struct{ *archive.Store }

func (e testV2) Lines() map[string]uint64 {
	return map[string]uint64{"state history records": e.Usage().HistoryBytes}
}
func (e testV2) Phases() map[string]time.Duration { return e.Usage().Phases }

// TestCompareStoresVerifiesBothLayouts runs the store bench on a small
// random chain: both layouts re-ingest it and every proof they answer
// verifies against the chain's own roots; the table names both.
func TestCompareStoresVerifiesBothLayouts(t *testing.T) {
	src := newModelChain(3, 40)
	var out bytes.Buffer
	cfg := StoreCompareConfig{
		Source: src, SourceName: "model", Repeat: 2, Samples: 30, FullGas: 1, Log: slog.New(slog.DiscardHandler),
		Engines: []Engine{
			{Name: "v1", Open: func(dir string) (StoreEngine, error) {
				s, err := store.Open(dir, store.DefaultConfig(), nil)
				return testV1{s}, err
			}},
			{Name: "v2", Open: func(dir string) (StoreEngine, error) {
				cfg := archive.DefaultConfig()
				cfg.Recent, cfg.Layers, cfg.FlushEvery, cfg.BlocksPerFile = 0, 4, 4, 8
				s, err := archive.Open(dir, cfg, nil)
				return testV2{s}, err
			}},
		},
	}
	require.NoError(t, CompareStores(context.Background(), cfg, &out))
	table := out.String()
	require.Contains(t, table, "| figure | v1 | v2 |")
	require.Contains(t, table, fmt.Sprintf("| proofs verified | %d | %d |", 30, 30))
	require.True(t, strings.Contains(table, "written per full block, state history records"), table)
}
