package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/api/statuspb"
	"github.com/strata-chain/strata/sequencer"
)

// record is what every producer reports for a committed block: the status
// line, the SLOs, the retention runner's wake-up, the metrics, readiness.
func (n *node) record(number uint64, txs int, ingest time.Duration, committed time.Time, lag time.Duration) {
	n.status.add(blockEvent{at: committed, number: number, txs: txs, ingest: ingest, lag: lag})
	n.slo.Committed(number, ingest)
	n.signalCommitted()
	n.metrics.head.Set(float64(number))
	n.metrics.lag.Set(lag.Seconds())
	n.lastMu.Lock()
	n.lastCommit = committed
	n.lastMu.Unlock()
}

// onBlock adds a hook called after each block; call before run.
func (n *node) onBlock(f func(sequencer.BlockInfo)) { n.blockHooks = append(n.blockHooks, f) }

// onEngineBlock adds a hook called after each block op-geth made in engine
// mode; call before run.
func (n *node) onEngineBlock(f func(sequencer.EngineBlockInfo)) {
	n.engineHooks = append(n.engineHooks, f)
}

// ready fails while a lag or ingest SLO is not ok (breached, or inside
// its hold-down after a breach), and when no block has been committed for
// ten block times (at least a second): the data served is then going
// stale even if the upstream stalled too. From the moment Stop begins it
// fails, so that load balancers move away before the listeners close.
func (n *node) ready() error {
	if n.draining.Load() {
		return errors.New("shutting down: draining requests in flight")
	}
	if health := n.health.Load(); health != nil {
		if fault := (*health)(); fault != nil {
			return fmt.Errorf("ingest stopped on a disk fault: %w", fault)
		}
	}
	n.lastMu.Lock()
	last := n.lastCommit
	n.lastMu.Unlock()
	limit := max(10*n.cfg.Sequencer.BlockTime, time.Second)
	if last.IsZero() {
		return errors.New("no block made yet")
	}
	if since := time.Since(last); since > limit {
		return fmt.Errorf("last block committed %s ago (limit %s)", since.Round(time.Millisecond), limit)
	}
	if err := n.slo.Status().Ready(); err != nil {
		return fmt.Errorf("SLO not met: %w", err)
	}
	return nil
}

// signalCommitted wakes the retention runner without ever blocking ingest.
func (n *node) signalCommitted() {
	select {
	case n.committed <- struct{}{}:
	default:
	}
}

// tiers reports the store's retention tiers; with retention off everything
// is in the recent tier.
func (n *node) tiers() []api.Tier {
	var out []api.Tier
	for _, t := range n.store.Tiers() {
		out = append(out, api.Tier{Name: t.Name, Earliest: t.Earliest, Latest: t.Latest, Bytes: t.Bytes, Empty: t.Empty})
	}
	return out
}

// mode is what the node is doing: sequencer, live or catch-up.
func (n *node) mode() string {
	if n.fol != nil && n.drv == nil {
		return string(n.fol.Mode())
	}
	return "sequencer"
}

// nodeStatus is GET /v1/status and strata.v1.Status/GetStatus.
func (n *node) nodeStatus() *statuspb.NodeStatus {
	st := n.slo.Status()
	out := &statuspb.NodeStatus{Mode: n.mode(), UpstreamHead: st.UpstreamHead, LagBlocks: st.LagBlocks,
		LagMs: float64(st.Lag) / float64(time.Millisecond), DiskBytes: n.store.DiskUsage()}
	if h, err := n.store.Head(); err == nil {
		out.Head, out.NewestBlock, out.HeadHash = h.Number, h.Number, h.Hash.Hex()
		out.UpstreamHead = max(out.UpstreamHead, h.Number)
		out.LagBlocks = out.UpstreamHead - h.Number
	}
	if o, err := n.store.Oldest(); err == nil {
		out.OldestBlock = o
	}
	out.Ready = n.ready() == nil
	for _, t := range n.tiers() {
		out.Tiers = append(out.Tiers, &statuspb.Tier{Name: t.Name, Earliest: t.Earliest, Latest: t.Latest, Bytes: t.Bytes})
	}
	for _, o := range st.Objectives {
		out.Slos = append(out.Slos, &statuspb.SLO{Name: o.Name, Target: o.Target, Value: o.Value, State: string(o.State),
			Since: o.Since.UTC().Format(time.RFC3339Nano)})
	}
	return out
}

// announce logs where the node serves and the dev accounts users can sign with.
func (n *node) announce() {
	args := []any{"http", "http://" + n.api.HTTPAddr(), "ws", "ws://" + n.api.WSAddr(), "datadir", n.cfg.DataDir}
	if n.ops != nil {
		args = append(args, "metrics", "http://"+n.ops.Addr()+"/metrics")
	}
	if n.grpc != nil {
		args = append(args, "grpc", n.grpc.Addr())
	}
	if n.drv != nil {
		args = append(args, "engine", n.cfg.Engine.URL, "op_geth_rpc", n.cfg.Engine.RPCURL)
	}
	n.log.Info("Strata is serving", args...)
	for i, k := range sequencer.DevKeys(min(n.cfg.Sequencer.DevAccounts, 3)) {
		n.log.Info("Dev account (prefunded, devnet only)", "index", i, "address", crypto.PubkeyToAddress(k.PublicKey),
			"private_key", fmt.Sprintf("0x%x", crypto.FromECDSA(k)))
	}
}

func (n *node) statusLoop(ctx context.Context) {
	tk := time.NewTicker(n.cfg.StatusInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			if l, ok := n.status.line(now); ok {
				n.log.Info("Status", "head", l.head, "blocks_per_s", fmt.Sprintf("%.1f", l.blocksPS), "txs_per_s", fmt.Sprintf("%.0f", l.txsPS),
					"ingest_p99", l.ingestP99.Round(10*time.Microsecond).String(), "lag", l.lag.Round(time.Millisecond).String())
			}
		}
	}
}
