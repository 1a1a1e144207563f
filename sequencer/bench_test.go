package sequencer

import (
	"context"
	"testing"
	"time"

	"github.com/strata-chain/strata/history/store"
)

// BenchmarkBlock makes blocks of a Base-like mix at 30 M gas (150 Mgas/s at
// 200 ms) on a store with a 100 k-account, 500 k-slot initial state, and
// reports each stage per block; the load generator's work (feeding the
// pool) is not timed, as it runs off the block path. Run with
//
//	go test ./sequencer -run - -bench Block -benchtime 20x
func BenchmarkBlock(b *testing.B) {
	for _, gas := range []uint64{4_000_000, 30_000_000} {
		b.Run(map[uint64]string{4_000_000: "4Mgas", 30_000_000: "30Mgas"}[gas], func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.GasLimit = 2 * gas
			cfg.Load.GasPerSecond = gas * 5
			cfg.Load.Accounts = 1024
			cfg.Load.Mix = Mix{KindERC20: 40, KindAMM: 20, KindTransferExisting: 20, KindTransferNew: 5, KindStorage: 8, KindWithdrawal: 2, KindCreate: 4, KindCreateSelfDestruct: 1}
			cfg.Initial = InitialState{Accounts: 100_000, Slots: 500_000}
			s, err := store.Open(b.TempDir(), store.DefaultConfig(), quiet)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			seq, err := newWithClock(cfg, s, quiet, func() time.Time { return time.UnixMilli(1_700_000_000_000) })
			if err != nil {
				b.Fatal(err)
			}
			if err := seq.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			var st Stages
			var ingest, build time.Duration
			var txs int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// The load generator feeds the pool from its own goroutine,
				// off the block path: untimed here.
				b.StopTimer()
				if err := seq.load.feed(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				info, err := seq.step(context.Background(), time.UnixMilli(int64(seq.BlockMillis(uint64(i+1)))))
				if err != nil {
					b.Fatal(err)
				}
				st.Execute += info.Stages.Execute
				st.StateRoot += info.Stages.StateRoot
				st.Commit += info.Stages.Commit
				st.Seal += info.Stages.Seal
				ingest += info.Ingest
				build += info.Build
				txs += info.Txs
			}
			n := float64(b.N)
			b.ReportMetric(float64(txs)/n, "txs/block")
			b.ReportMetric(float64(build-st.Execute-st.StateRoot-st.Commit-st.Seal)/n/1e6, "pool-ms/block")
			b.ReportMetric(float64(st.Execute)/n/1e6, "execute-ms/block")
			b.ReportMetric(float64(st.StateRoot)/n/1e6, "root-ms/block")
			b.ReportMetric(float64(st.Commit)/n/1e6, "commit-ms/block")
			b.ReportMetric(float64(ingest)/n/1e6, "ingest-ms/block")
		})
	}
}
