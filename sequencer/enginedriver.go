package sequencer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum-optimism/optimism/op-node/rollup"
	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	enginecl "github.com/strata-chain/strata/sequencer/engine"
)

// EngineConfig configures engine mode: the sequencer has an external
// op-geth build its blocks through the Engine API, as op-node's sequencer
// does, instead of executing them in process.
type EngineConfig struct {
	// URL is op-geth's authrpc endpoint (--authrpc.addr/--authrpc.port).
	URL string
	// JWTSecretPath is the secret file op-geth's --authrpc.jwtsecret reads.
	JWTSecretPath string
	// RPCURL is op-geth's JSON-RPC endpoint (--http): the driver reads the
	// genesis and the head there and sends user and load transactions to
	// op-geth's pool with eth_sendRawTransaction.
	RPCURL string
	// Timeout bounds one call to op-geth.
	Timeout time.Duration
	// RetryInitial and RetryMax bound the exponential backoff after op-geth
	// refuses or fails a call.
	RetryInitial, RetryMax time.Duration
}

// DefaultEngineRPCURL is op-geth's default JSON-RPC endpoint.
const DefaultEngineRPCURL = "http://127.0.0.1:8545"

// DefaultEngineConfig is engine mode against an op-geth on its default
// loopback ports; JWTSecretPath has no default.
func DefaultEngineConfig() EngineConfig {
	return EngineConfig{
		URL:          enginecl.DefaultURL,
		RPCURL:       DefaultEngineRPCURL,
		Timeout:      enginecl.DefaultTimeout,
		RetryInitial: 100 * time.Millisecond,
		RetryMax:     5 * time.Second,
	}
}

// Validate reports every problem with c, and with seq as engine mode runs
// it, at once.
func (c EngineConfig) Validate(seq Config) error {
	var errs []error
	for _, u := range []struct{ name, url string }{{"URL", c.URL}, {"RPC URL", c.RPCURL}} {
		p, err := url.Parse(u.url)
		switch {
		case u.url == "":
			errs = append(errs, fmt.Errorf("engine mode: no op-geth %s", u.name))
		case err != nil:
			errs = append(errs, fmt.Errorf("engine mode: op-geth %s %q: %w", u.name, u.url, err))
		case !slices.Contains([]string{"http", "https", "ws", "wss"}, p.Scheme):
			errs = append(errs, fmt.Errorf("engine mode: op-geth %s %q: want http, https, ws or wss", u.name, u.url))
		}
	}
	if c.JWTSecretPath == "" {
		errs = append(errs, errors.New("engine mode: no JWT secret file (the one op-geth's --authrpc.jwtsecret reads)"))
	}
	if c.Timeout <= 0 || c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("engine mode: timeout %s, retry backoff %s to %s: want positive, initial at most max", c.Timeout, c.RetryInitial, c.RetryMax))
	}
	if seq.TimestampPolicy == TimestampSeconds && (seq.BlockTime < time.Second || seq.BlockTime%time.Second != 0) {
		errs = append(errs, fmt.Errorf("engine mode: op-geth refuses a block whose timestamp is not above its parent's, so under the seconds timestamp policy the block time must be whole seconds (at least 1s), got %s", seq.BlockTime))
	}
	if seq.Initial != (InitialState{}) {
		errs = append(errs, errors.New("engine mode: op-geth is initialised from the genesis file, which holds no initial filler state: initial accounts and slots must be zero"))
	}
	return errors.Join(errs...)
}

// EngineBlockInfo describes one block op-geth built for the driver and made
// its head.
type EngineBlockInfo struct {
	Number     uint64
	Hash       common.Hash
	Txs        int // deposits included
	Deposits   int
	GasUsed    uint64
	Due        time.Time // the block's slot on the block-time grid: when it is sealed
	Sealed     time.Time // when op-geth made it its head
	CatchingUp bool      // made late, without waiting: the pool is not read
	Attempts   int       // builds tried; more than one after a refusal
	LoadSent   int       // load generator transactions sent to op-geth's pool after this block's build started
	// The latencies of the block's last, successful, Engine API calls.
	StartBuild, GetPayload, NewPayload, SetHead time.Duration
}

// CallStats are the latencies of one Engine API method over the driver's
// latest calls (at most latencyWindow of them).
type CallStats struct {
	Calls  int // every call since the driver started
	Errors int // calls that failed (a payload status other than VALID is not a failure)
	P50    time.Duration
	P99    time.Duration
	Max    time.Duration
}

// latencyWindow is how many recent calls per method CallStats reads.
const latencyWindow = 4096

// EngineDriver makes blocks on the sequencer's block-time grid inside an
// external op-geth, as op-node's sequencer does: the build of block n
// starts one block time before its slot with engine_forkchoiceUpdatedV3 and
// payload attributes (the L1-attributes deposit and the epoch's user
// deposits, from the same synthetic L1 as the in-process sequencer, the
// header fields the in-process sequencer would write), op-geth fills it from
// its own transaction pool meanwhile, and at the slot the driver collects
// it with engine_getPayloadV4 (V3 before Isthmus), has op-geth import it
// with engine_newPayloadV4 and makes it the head with a forkchoice update.
// User and load transactions reach op-geth's pool through its JSON-RPC
// (eth_sendRawTransaction), as op-node leaves them to op-geth. The store is
// not touched: a follower of op-geth ingests what it makes.
type EngineDriver struct {
	seq   *Sequencer // the chain's configuration, grid, synthetic L1 and deposits; holds no chain (set by Start)
	cfg   Config
	ecfg  EngineConfig
	log   *slog.Logger
	cl    *enginecl.Client
	rpc   *rpc.Client
	clock engineClock
	head  *types.Header // op-geth's head, as the driver's own forkchoice updates set it
	g     *core.Genesis

	load         *loadGen // nil when the load generator is off
	resync       bool     // the load generator's nonces must be read again from op-geth
	loadNext     uint64   // the block the next load batch is for
	feeCapWarned bool     // op-geth's RPC fee cap refused the load, and the log said so

	building atomic.Bool // a forkchoice update with attributes is under way
	statsMu  sync.Mutex
	stats    map[string]*callWindow
	onCall   func(method string, d time.Duration, err error)
	onBlock  func(EngineBlockInfo)
}

// engineClock is the driver's time: the wall clock, or a test's.
type engineClock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends (then it returns false).
	Sleep(ctx context.Context, d time.Duration) bool
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// NewEngineDriver builds a driver of op-geth for cfg and ecfg. It does no
// I/O: Start connects. OpenEngineDriver does both.
func NewEngineDriver(cfg Config, ecfg EngineConfig, log *slog.Logger) (*EngineDriver, error) {
	return newEngineDriver(cfg, ecfg, log, wallClock{})
}

// OpenEngineDriver is NewEngineDriver followed by Start.
func OpenEngineDriver(ctx context.Context, cfg Config, ecfg EngineConfig, log *slog.Logger) (*EngineDriver, error) {
	d, err := NewEngineDriver(cfg, ecfg, log)
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func newEngineDriver(cfg Config, ecfg EngineConfig, log *slog.Logger, clock engineClock) (*EngineDriver, error) {
	if err := errors.Join(cfg.Validate(), ecfg.Validate(cfg)); err != nil {
		return nil, fmt.Errorf("sequencer config: %w", err)
	}
	return &EngineDriver{cfg: cfg, ecfg: ecfg, log: log, clock: clock, stats: map[string]*callWindow{}}, nil
}

// Start connects to op-geth and checks it runs this configuration's devnet
// chain: its block 0 must be Genesis(cfg) at block 0's own time (so
// op-geth must have been initialised from the genesis file Strata writes,
// `strata genesis`), and its head must lie on the block-time grid. Blocks
// continue from op-geth's head. On an error the driver holds no
// connection.
func (d *EngineDriver) Start(ctx context.Context) error {
	_, err := d.start(ctx)
	return err
}

func (d *EngineDriver) start(ctx context.Context) (*EngineDriver, error) {
	cfg, ecfg, log, clock := d.cfg, d.ecfg, d.log, d.clock
	var err error
	if d.rpc, err = rpc.DialContext(ctx, ecfg.RPCURL); err != nil {
		return nil, fmt.Errorf("engine mode: dial op-geth's JSON-RPC %s: %w", ecfg.RPCURL, err)
	}
	fail := func(err error) (*EngineDriver, error) { d.Close(); return nil, err }
	var h0 *types.Header
	if err := d.call(ctx, &h0, "eth_getBlockByNumber", "0x0", false); err != nil || h0 == nil {
		return fail(fmt.Errorf("engine mode: read op-geth's genesis at %s: %v (is op-geth running with --http?)", ecfg.RPCURL, err))
	}
	ms := h0.Time * 1000
	if cfg.TimestampPolicy == TimestampMilliseconds {
		ms = h0.Time
	}
	if d.g, err = Genesis(cfg, ms); err != nil {
		return fail(err)
	}
	genesis := d.g.ToBlock().Header()
	if genesis.Hash() != h0.Hash() {
		return fail(fmt.Errorf("engine mode: op-geth at %s holds genesis %s, but this configuration's devnet genesis at that time (%s) is %s: "+
			"initialise op-geth (op-geth init) from the genesis file `strata genesis` writes with the same chain ID, gas limit, dev and load accounts, load seed, timestamp policy and forks",
			ecfg.RPCURL, h0.Hash(), time.UnixMilli(int64(ms)).UTC().Format(time.RFC3339), genesis.Hash()))
	}
	d.seq = &Sequencer{cfg: cfg, log: log, now: clock.Now, started: make(chan struct{})}
	d.seq.ex = NewExecutor(d.g.Config, nil)
	d.seq.setGenesis(ms, d.g.Config, genesis)

	d.cl = enginecl.New(enginecl.Config{URL: ecfg.URL, JWTSecretPath: ecfg.JWTSecretPath, Timeout: ecfg.Timeout, OnCall: d.recordCall})
	if err := d.cl.Start(ctx); err != nil {
		return fail(err)
	}
	if err := d.call(ctx, &d.head, "eth_getBlockByNumber", "latest", false); err != nil || d.head == nil {
		return fail(fmt.Errorf("engine mode: read op-geth's head at %s: %v", ecfg.RPCURL, err))
	}
	if n := d.head.Number.Uint64(); n > 0 && d.head.Time != d.seq.headerTime(n) {
		return fail(fmt.Errorf("engine mode: op-geth's head %d has time %d, but the %s block-time grid from the genesis puts it at %d: was the chain made with another block time?",
			n, d.head.Time, cfg.BlockTime, d.seq.headerTime(n)))
	}
	if cfg.Load.GasPerSecond > 0 {
		d.load = newLoadGen(cfg.Load, cfg.Initial, d.g.Config)
		d.resync = true
	}
	log.Info("Driving op-geth through the Engine API", "engine", ecfg.URL, "rpc", ecfg.RPCURL, "genesis", genesis.Hash(),
		"head", d.head.Number, "head_hash", d.head.Hash(), "block_time", cfg.BlockTime)
	return d, nil
}

// Close releases the connections to op-geth.
func (d *EngineDriver) Close() {
	if d.cl != nil {
		d.cl.Stop()
		d.cl = nil
	}
	if d.rpc != nil {
		d.rpc.Close()
		d.rpc = nil
	}
}

// Stop releases the connections to op-geth (Close, in the Start/Stop
// lifecycle).
func (d *EngineDriver) Stop(context.Context) error {
	d.Close()
	return nil
}

// ChainConfig is the chain's fork configuration.
func (d *EngineDriver) ChainConfig() *params.ChainConfig { return d.seq.ChainConfig() }

// RollupConfig is op-node's rollup config of the chain.
func (d *EngineDriver) RollupConfig() *rollup.Config { return d.seq.RollupConfig() }

// Genesis is the genesis op-geth was initialised from, as a genesis file
// holds it.
func (d *EngineDriver) Genesis() *core.Genesis { return d.g }

// BlockMillis is block n's time in Unix milliseconds on the block-time grid.
func (d *EngineDriver) BlockMillis(n uint64) uint64 { return d.seq.BlockMillis(n) }

// OnBlock registers f to be called (from Run's goroutine) after each block
// op-geth made its head. Call it before Run.
func (d *EngineDriver) OnBlock(f func(EngineBlockInfo)) { d.onBlock = f }

// OnCall registers f to be called after every Engine API call with its
// method (CallBuild for a forkchoice update that starts a build), latency
// and error, from the calling goroutine. Call it before Run.
func (d *EngineDriver) OnCall(f func(method string, d time.Duration, err error)) { d.onCall = f }

// AddDeposit queues a user deposit for the first block of the next L1
// epoch (see Sequencer.AddDeposit).
func (d *EngineDriver) AddDeposit(dep Deposit) error { return d.seq.AddDeposit(dep) }

// SubmitTransaction sends tx to op-geth's pool (eth_sendRawTransaction);
// op-geth's refusal is returned as it gave it.
func (d *EngineDriver) SubmitTransaction(tx *types.Transaction) error {
	raw, err := tx.MarshalBinary()
	if err != nil {
		return err
	}
	var hash common.Hash
	return d.call(context.Background(), &hash, "eth_sendRawTransaction", hexutil.Bytes(raw))
}

// CallStats are the latencies of the Engine API calls made so far, by
// method (engine_getPayloadV4, engine_newPayloadV4, ...), with forkchoice
// updates that start a build under CallBuild.
func (d *EngineDriver) CallStats() map[string]CallStats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	out := make(map[string]CallStats, len(d.stats))
	for m, w := range d.stats {
		out[m] = w.stats()
	}
	return out
}

// CallBuild is the CallStats key of engine_forkchoiceUpdatedV3 calls that
// carry payload attributes (start a build); the plain method name counts
// those that only move the head.
const CallBuild = enginecl.MethodForkchoiceUpdatedV3 + "+attributes"

func (d *EngineDriver) recordCall(method string, dur time.Duration, err error) {
	if method == enginecl.MethodForkchoiceUpdatedV3 && d.building.Load() {
		method = CallBuild
	}
	d.statsMu.Lock()
	w := d.stats[method]
	if w == nil {
		w = &callWindow{}
		d.stats[method] = w
	}
	w.add(dur, err)
	d.statsMu.Unlock()
	if d.onCall != nil {
		d.onCall(method, dur, err)
	}
}

// callWindow holds one method's latest latencies.
type callWindow struct {
	calls, errors int
	recent        []time.Duration // a ring of latencyWindow
}

func (w *callWindow) add(d time.Duration, err error) {
	if len(w.recent) < latencyWindow {
		w.recent = append(w.recent, d)
	} else {
		w.recent[w.calls%latencyWindow] = d
	}
	w.calls++
	if err != nil {
		w.errors++
	}
}

func (w *callWindow) stats() CallStats {
	s := CallStats{Calls: w.calls, Errors: w.errors}
	if len(w.recent) == 0 {
		return s
	}
	ds := slices.Clone(w.recent)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	s.P50, s.P99, s.Max = at(0.50), at(0.99), ds[len(ds)-1]
	return s
}

// call makes one JSON-RPC call to op-geth under the timeout.
func (d *EngineDriver) call(ctx context.Context, out any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, d.ecfg.Timeout)
	defer cancel()
	return d.rpc.CallContext(ctx, out, method, args...)
}

// refusal is a failed build step: op-geth's error or a payload status
// other than VALID.
type refusal struct {
	method string
	status string // the payload status, or "error" for a failed call
	msg    string
}

func refused(method string, err error) *refusal {
	return &refusal{method: method, status: "error", msg: err.Error()}
}

func statusRefusal(method string, st engine.PayloadStatusV1) *refusal {
	msg := "no validation error given"
	if st.ValidationError != nil {
		msg = *st.ValidationError
	}
	return &refusal{method: method, status: st.Status, msg: msg}
}

// Run makes blocks until ctx is cancelled; then it returns nil. op-geth's
// refusals and failures are logged with the block, the method and
// op-geth's message, and the step is retried with backoff: Run does not
// give up on a block.
func (d *EngineDriver) Run(ctx context.Context) error {
	lastLog := time.Time{}
	for ctx.Err() == nil {
		info, err := d.block(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if d.onBlock != nil {
			d.onBlock(info)
		}
		if info.CatchingUp && time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			behind := d.clock.Now().Sub(info.Due)
			d.log.Info("Sequencer catching up with the clock", "number", info.Number, "behind", behind.Round(time.Millisecond).String(),
				"blocks_left", int64(behind/d.seq.cfg.BlockTime))
		}
	}
	return nil
}

// block makes the block after the head: it starts the build one block time
// before the block's slot (at once if that is past), sends the next
// block's load meanwhile, and seals at the slot. Refused steps are retried
// with one backoff for the whole block; it returns ctx.Err() only when ctx
// ends during a wait.
func (d *EngineDriver) block(ctx context.Context) (EngineBlockInfo, error) {
	s := d.seq
	parent := d.head
	n := parent.Number.Uint64() + 1
	due := time.UnixMilli(int64(s.BlockMillis(n)))
	info := EngineBlockInfo{Number: n, Due: due}
	if d.load != nil && d.loadNext <= n && d.clock.Now().Sub(due) <= s.downtime() {
		// The first block, or the first after catching up: its load has not
		// been sent ahead.
		d.sendLoad(ctx, n, parent)
	}
	if wait := due.Add(-s.cfg.BlockTime).Sub(d.clock.Now()); wait > 0 && !d.clock.Sleep(ctx, wait) {
		return info, ctx.Err()
	}
	info.CatchingUp = d.clock.Now().Sub(due) > s.downtime()
	attrs, isthmus, err := d.attributes(parent, n, info.CatchingUp)
	if err != nil {
		return info, err
	}
	rt := engineRetry{d: d, n: n, backoff: d.ecfg.RetryInitial}
	block := d.buildRetrying(ctx, &rt, parent, attrs, isthmus, due, &info)
	if block == nil || !d.setHeadRetrying(ctx, &rt, block, &info) {
		return info, ctx.Err()
	}
	d.head = block.Header()
	info.Sealed = d.clock.Now()
	info.Hash, info.Txs, info.GasUsed = block.Hash(), len(block.Transactions()), block.GasUsed()
	for _, tx := range block.Transactions() {
		if tx.IsDepositTx() {
			info.Deposits++
		}
	}
	if d.load != nil {
		d.load.observe(block.GasUsed())
	}
	return info, nil
}

// attributes are block n's payload attributes on parent: the header fields
// the in-process sequencer would write and the epoch's deposits; op-geth's
// pool is left out in an upgrade block and while catching up. isthmus is
// whether the block is past Isthmus (the Engine API's V4 calls).
func (d *EngineDriver) attributes(parent *types.Header, n uint64, catchingUp bool) (attrs *engine.PayloadAttributes, isthmus bool, err error) {
	s := d.seq
	h := s.headerTemplate(parent, n)
	deposits, upgrade, err := s.depositsFor(n, h.Time)
	if err != nil {
		return nil, false, err
	}
	attrs = &engine.PayloadAttributes{
		Timestamp:             h.Time,
		Random:                h.MixDigest,
		SuggestedFeeRecipient: h.Coinbase,
		Withdrawals:           []*types.Withdrawal{},
		BeaconRoot:            h.ParentBeaconRoot,
		NoTxPool:              upgrade || catchingUp,
		GasLimit:              &s.cfg.GasLimit,
	}
	for _, tx := range deposits {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return nil, false, fmt.Errorf("block %d: encode deposit: %w", n, err)
		}
		attrs.Transactions = append(attrs.Transactions, raw)
	}
	if s.config.IsHolocene(h.Time) {
		attrs.EIP1559Params = eip1559.EncodeHolocene1559Params(EIP1559Denominator, EIP1559Elasticity)
	}
	if s.config.IsJovian(h.Time) {
		attrs.MinBaseFee = new(uint64)
	}
	return attrs, s.config.IsIsthmus(h.Time), nil
}

// engineRetry is one block's backoff between refused Engine API steps: it
// starts at RetryInitial and doubles up to RetryMax across all the block's
// steps.
type engineRetry struct {
	d       *EngineDriver
	n       uint64 // the block
	backoff time.Duration
}

// wait logs op-geth's refusal r of attempt and sleeps the backoff; false
// if ctx ended meanwhile.
func (rt *engineRetry) wait(ctx context.Context, r *refusal, attempt int) bool {
	rt.d.log.Warn("op-geth refused the block; retrying", "number", rt.n, "method", r.method, "status", r.status, "message", r.msg,
		"attempt", attempt, "backoff", rt.backoff.String())
	ok := rt.d.clock.Sleep(ctx, rt.backoff)
	rt.backoff = min(2*rt.backoff, rt.d.ecfg.RetryMax)
	return ok
}

// buildRetrying has op-geth build, seal and import the block until it
// does, counting the attempts in info; nil if ctx ended first.
func (d *EngineDriver) buildRetrying(ctx context.Context, rt *engineRetry, parent *types.Header, attrs *engine.PayloadAttributes, isthmus bool, due time.Time, info *EngineBlockInfo) *types.Block {
	for {
		info.Attempts++
		block, r := d.build(ctx, parent, attrs, isthmus, due, info)
		if r == nil {
			return block
		}
		if ctx.Err() != nil || !rt.wait(ctx, r, info.Attempts) {
			return nil
		}
	}
}

// setHeadRetrying makes block op-geth's head with a forkchoice update until
// op-geth takes it; false if ctx ended first.
func (d *EngineDriver) setHeadRetrying(ctx context.Context, rt *engineRetry, block *types.Block, info *EngineBlockInfo) bool {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := d.cl.ForkchoiceUpdated(ctx, d.forkchoice(block.Hash()), nil)
		info.SetHead = time.Since(start)
		var r *refusal
		switch {
		case err != nil:
			r = refused(enginecl.MethodForkchoiceUpdatedV3, err)
		case res.PayloadStatus.Status != engine.VALID:
			r = statusRefusal(enginecl.MethodForkchoiceUpdatedV3, res.PayloadStatus)
		}
		if r == nil {
			return true
		}
		if ctx.Err() != nil || !rt.wait(ctx, r, attempt) {
			return false
		}
	}
}

// build has op-geth build, seal and import block n on parent: it returns
// the block, or what op-geth refused. The load for the next block is sent
// while op-geth builds.
func (d *EngineDriver) build(ctx context.Context, parent *types.Header, attrs *engine.PayloadAttributes, isthmus bool, due time.Time, info *EngineBlockInfo) (*types.Block, *refusal) {
	s := d.seq
	n := parent.Number.Uint64() + 1
	start := time.Now()
	d.building.Store(true)
	res, err := d.cl.ForkchoiceUpdated(ctx, d.forkchoice(parent.Hash()), attrs)
	d.building.Store(false)
	info.StartBuild = time.Since(start)
	switch {
	case err != nil:
		return nil, refused(enginecl.MethodForkchoiceUpdatedV3, err)
	case res.PayloadStatus.Status != engine.VALID:
		return nil, statusRefusal(enginecl.MethodForkchoiceUpdatedV3, res.PayloadStatus)
	case res.PayloadID == nil:
		return nil, &refusal{method: enginecl.MethodForkchoiceUpdatedV3, status: res.PayloadStatus.Status, msg: "no payload ID: op-geth did not start a build"}
	}
	if d.load != nil && !info.CatchingUp && d.loadNext <= n+1 {
		info.LoadSent = d.sendLoad(ctx, n+1, parent)
	}
	// op-geth fills the block from its pool until it is collected: seal at
	// the slot.
	if wait := due.Sub(d.clock.Now()); wait > 0 && !d.clock.Sleep(ctx, wait) {
		return nil, &refusal{method: "sleep", status: "error", msg: ctx.Err().Error()}
	}
	getMethod := enginecl.MethodGetPayloadV3
	if isthmus {
		getMethod = enginecl.MethodGetPayloadV4
	}
	start = time.Now()
	env, err := d.cl.GetPayload(ctx, *res.PayloadID, isthmus)
	info.GetPayload = time.Since(start)
	if err != nil {
		return nil, refused(getMethod, err)
	}
	p := env.ExecutionPayload
	block, err := engine.ExecutableDataToBlock(*p, []common.Hash{}, attrs.BeaconRoot, env.Requests, s.config)
	if err != nil {
		return nil, refused(getMethod, fmt.Errorf("payload %d %s: %w", p.Number, p.BlockHash, err))
	}
	if block.NumberU64() != n || block.ParentHash() != parent.Hash() {
		return nil, &refusal{method: getMethod, status: "error", msg: fmt.Sprintf("payload is block %d on %s, asked for %d on %s", block.NumberU64(), block.ParentHash(), n, parent.Hash())}
	}
	newMethod := enginecl.MethodNewPayloadV3
	if isthmus {
		newMethod = enginecl.MethodNewPayloadV4
	}
	start = time.Now()
	st, err := d.cl.NewPayload(ctx, p, *attrs.BeaconRoot, isthmus)
	info.NewPayload = time.Since(start)
	switch {
	case err != nil:
		return nil, refused(newMethod, err)
	case st.Status != engine.VALID:
		return nil, statusRefusal(newMethod, st)
	}
	return block, nil
}

// forkchoice makes head op-geth's head, safe and finalized block: there is
// no L1 to derive safety from.
func (d *EngineDriver) forkchoice(head common.Hash) engine.ForkchoiceStateV1 {
	return engine.ForkchoiceStateV1{HeadBlockHash: head, SafeBlockHash: head, FinalizedBlockHash: head}
}

// sendBatch bounds the transactions sent in one JSON-RPC batch (op-geth
// refuses batches of more than 1000 calls by default).
const sendBatch = 500

// sendLoad generates block n's load, priced for the block after parent,
// and sends it to op-geth's pool. It returns how many transactions op-geth
// took; one it refuses has the generator read its nonces again.
func (d *EngineDriver) sendLoad(ctx context.Context, n uint64, parent *types.Header) int {
	d.loadNext = n + 1
	if d.resync {
		if err := d.resyncLoad(ctx); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			d.log.Warn("Reading the load accounts' nonces from op-geth failed; no load this block", "err", err)
			return 0
		}
		d.resync = false
	}
	s := d.seq
	gas := s.cfg.Load.GasPerSecond * uint64(s.cfg.BlockTime) / uint64(time.Second)
	baseFee := eip1559.CalcBaseFee(s.config, parent, s.headerTime(parent.Number.Uint64()+1))
	txs := d.load.generate(gas, baseFee)
	sent := 0
	for i := 0; i < len(txs); i += sendBatch {
		chunk := txs[i:min(i+sendBatch, len(txs))]
		batch := make([]rpc.BatchElem, len(chunk))
		hashes := make([]common.Hash, len(chunk))
		for j, tx := range chunk {
			raw, err := tx.MarshalBinary()
			if err != nil {
				d.log.Error("Encoding a load transaction failed", "err", err)
				d.resync = true
				return sent
			}
			batch[j] = rpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Bytes(raw)}, Result: &hashes[j]}
		}
		cctx, cancel := context.WithTimeout(ctx, d.ecfg.Timeout)
		err := d.rpc.BatchCallContext(cctx, batch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("Sending the load to op-geth failed", "block", n, "err", err)
			}
			d.resync = true
			return sent
		}
		for _, b := range batch {
			if b.Error == nil {
				sent++
				continue
			}
			switch {
			case strings.Contains(b.Error.Error(), "exceeds the configured cap"):
				if !d.feeCapWarned {
					d.feeCapWarned = true
					d.log.Warn("op-geth refuses the load generator's transactions: gas × fee cap exceeds op-geth's RPC fee cap (--rpc.txfeecap, 1 ETH by default); the base fee has climbed far, or the cap was lowered",
						"err", b.Error)
				}
			case !d.resync:
				d.log.Debug("op-geth refused a load transaction; reading the nonces again", "block", n, "err", b.Error)
			}
			d.resync = true
		}
	}
	return sent
}

// resyncLoad sets the load generator's nonces to op-geth's pending ones.
func (d *EngineDriver) resyncLoad(ctx context.Context) error {
	addrs := d.load.addrs
	nonces := make([]hexutil.Uint64, len(addrs))
	batch := make([]rpc.BatchElem, len(addrs))
	for i, a := range addrs {
		batch[i] = rpc.BatchElem{Method: "eth_getTransactionCount", Args: []any{a, "pending"}, Result: &nonces[i]}
	}
	cctx, cancel := context.WithTimeout(ctx, d.ecfg.Timeout)
	defer cancel()
	if err := d.rpc.BatchCallContext(cctx, batch); err != nil {
		return err
	}
	byAddr := make(map[common.Address]uint64, len(addrs))
	for i, b := range batch {
		if b.Error != nil {
			return fmt.Errorf("nonce of %s: %w", addrs[i], b.Error)
		}
		byAddr[addrs[i]] = uint64(nonces[i])
	}
	return d.load.resync(func(a common.Address) (uint64, error) { return byAddr[a], nil })
}
