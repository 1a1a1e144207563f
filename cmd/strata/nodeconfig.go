package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/viper"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/bench"
	"github.com/strata-chain/strata/follower"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/retention"
	"github.com/strata-chain/strata/sequencer"
)

// nodeConfig is everything a node needs, read from viper or set by a bench.
type nodeConfig struct {
	Mode        string
	DataDir     string // empty: an in-memory store
	HTTPAddr    string
	HTTPPort    int
	WSPort      int
	GRPCPort    int
	MetricsPort int
	GRPCAddr    string // empty: loopback
	MetricsAddr string // empty: loopback
	// Posture is the JSON-RPC listeners' posture (namespaces, hosts,
	// origins, limits); its Addr and ports are set from the fields above.
	Posture        api.ServerConfig
	StatusInterval time.Duration
	Store          store.Config
	Sequencer      sequencer.Config
	// Engine is engine mode's op-geth; an empty URL runs the in-process
	// sequencer instead.
	Engine   sequencer.EngineConfig
	Follower follower.Config
	// RollupFile is follower mode's op-node rollup config (rollup.json).
	RollupFile string
	FutureWait time.Duration
	Retention  retention.Spans
	// Contract holds the SLOs the node enforces, scaled to its block time.
	Contract *bench.Contract
}

func nodeConfigFrom(v *viper.Viper) (nodeConfig, error) {
	c := nodeConfig{
		Mode:        v.GetString("mode"),
		DataDir:     v.GetString("datadir"),
		HTTPAddr:    v.GetString("http.addr"),
		HTTPPort:    v.GetInt("http.port"),
		WSPort:      v.GetInt("ws.port"),
		GRPCPort:    v.GetInt("grpc.port"),
		MetricsPort: v.GetInt("metrics.port"),
		GRPCAddr:    v.GetString("grpc.addr"),
		MetricsAddr: v.GetString("metrics.addr"),
		Posture: api.ServerConfig{
			HTTPAPI:              listOption(v, "http.api"),
			WSAPI:                listOption(v, "ws.api"),
			HTTPVirtualHosts:     listOption(v, "http.vhosts"),
			HTTPCORSDomains:      listOption(v, "http.corsdomain"),
			WSOrigins:            listOption(v, "ws.origins"),
			HTTPBodyLimit:        v.GetInt("rpc.http_body_limit"),
			WSReadLimit:          v.GetInt64("rpc.ws_read_limit"),
			BatchRequestLimit:    v.GetInt("rpc.batch_request_limit"),
			BatchResponseMaxSize: v.GetInt("rpc.batch_response_max_size"),
			RateLimit:            api.RateLimitConfig{PerSecond: float64(v.GetInt("rpc.ratelimit")), Burst: v.GetInt("rpc.ratelimit_burst")},
		},
		StatusInterval: v.GetDuration("status.interval"),
		Store:          store.DefaultConfig(),
		Sequencer:      sequencer.DefaultConfig(),
	}
	c.Store.NodeCacheEntries = v.GetInt("history.node_cache_entries")
	c.Store.BlockCacheBytes = v.GetInt64("history.block_cache_bytes")
	s := &c.Sequencer
	s.ChainID = v.GetUint64("sequencer.chain_id")
	s.BlockTime = v.GetDuration("sequencer.block_time")
	s.TimestampPolicy = sequencer.TimestampPolicy(v.GetString("sequencer.timestamp_policy"))
	s.GasLimit = v.GetUint64("sequencer.gas_limit")
	s.DevAccounts = v.GetInt("sequencer.dev_accounts")
	s.Load.GasPerSecond = v.GetUint64("sequencer.load.gas_per_second")
	s.Load.Seed = v.GetInt64("sequencer.load.seed")
	s.L1BlockTime = v.GetDuration("sequencer.l1_block_time")
	s.DepositsPerEpoch = v.GetInt("sequencer.deposits_per_epoch")
	switch after := v.GetInt64("sequencer.jovian_after"); {
	case after < -1:
		return c, fmt.Errorf("sequencer.jovian_after %d: want seconds after genesis, 0 or -1 (never)", after)
	case after == -1:
		s.Forks.JovianAfter = nil
	default:
		a := uint64(after)
		s.Forks.JovianAfter = &a
	}
	c.Engine = sequencer.DefaultEngineConfig()
	c.Engine.URL = v.GetString("engine.url")
	c.Engine.JWTSecretPath = v.GetString("engine.jwt")
	c.Engine.RPCURL = v.GetString("engine.rpc")
	c.RollupFile = v.GetString("rollup.config")
	c.Follower = follower.DefaultConfig()
	c.Follower.URL = v.GetString("follower.url")
	c.Follower.GenesisFile = v.GetString("follower.genesis")
	c.Follower.PollInterval = v.GetDuration("follower.poll_interval")
	c.Follower.MaxReorgDepth = v.GetUint64("follower.max_reorg_depth")
	c.Follower.RequestTimeout = v.GetDuration("follower.request_timeout")
	c.Follower.CatchupThreshold = v.GetUint64("catchup.threshold")
	c.Follower.Catchup.BatchBlocks = v.GetInt("catchup.batch_blocks")
	c.Follower.Catchup.Fetchers = v.GetInt("catchup.fetchers")
	if w := v.GetInt("catchup.workers"); w > 0 {
		c.Follower.Catchup.Workers = w
	}
	c.FutureWait = v.GetDuration("api.future_wait")
	c.Retention = retention.Spans{Recent: v.GetDuration("retention.recent"), Window: v.GetDuration("retention.window"),
		Checkpoint: v.GetUint64("retention.checkpoint")}
	for _, a := range strings.Split(v.GetString("retention.pinned"), ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !common.IsHexAddress(a) {
			return c, fmt.Errorf("retention.pinned: %q is not an address", a)
		}
		c.Retention.Pinned = append(c.Retention.Pinned, common.HexToAddress(a))
	}
	var err error
	if c.Contract, err = loadSLOContract(v.GetString("slo.contract")); err != nil {
		return c, err
	}
	if strings.HasPrefix(c.Follower.URL, "strata://") {
		// Another Strata's devnet: its chain configuration is the sequencer's.
		c.Follower.ChainConfig = sequencer.ChainConfig(s.ChainID, 0, s.Forks) // forks at genesis only: a scheduled Jovian needs the genesis time
	}
	return c, c.validate()
}

func (c nodeConfig) validate() error {
	var errs []error
	switch c.Mode {
	case "fullstack", "sequencer":
	case "follower":
		switch {
		case c.Follower.URL == "":
			errs = append(errs, errors.New("mode follower needs follower.url: an upstream's JSON-RPC (http://, ws://) or another Strata's gRPC (strata://host:port)"))
		case !strings.HasPrefix(c.Follower.URL, "strata://") && c.Follower.GenesisFile == "":
			errs = append(errs, errors.New("mode follower with a JSON-RPC upstream needs follower.genesis (its genesis file)"))
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q: want fullstack, sequencer or follower", c.Mode))
	}
	for name, p := range map[string]int{"http.port": c.HTTPPort, "ws.port": c.WSPort, "grpc.port": c.GRPCPort, "metrics.port": c.MetricsPort} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s %d: want 0..65535", name, p))
		}
	}
	if c.Mode == "sequencer" {
		c.Sequencer.Load.GasPerSecond = 0
	}
	if c.Mode == "follower" {
		// The sequencer settings do not apply.
	} else if err := c.Sequencer.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.engineMode() {
		errs = append(errs, c.validateEngine()...)
	}
	if c.RollupFile != "" && c.Mode != "follower" {
		errs = append(errs, fmt.Errorf("rollup.config is for follower mode: mode %s serves the rollup config of the chain its sequencer makes", c.Mode))
	}
	if err := c.Store.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Follower.Catchup.BatchBlocks < 0 || c.Follower.Catchup.Fetchers < 0 {
		errs = append(errs, fmt.Errorf("catchup.batch_blocks %d and catchup.fetchers %d: want at least 1 (0: the default)", c.Follower.Catchup.BatchBlocks, c.Follower.Catchup.Fetchers))
	}
	if c.FutureWait < 0 || c.FutureWait > time.Minute {
		errs = append(errs, fmt.Errorf("api.future_wait %s: want 0 to 1m", c.FutureWait))
	}
	return errors.Join(errs...)
}

// engineMode reports whether op-geth builds the blocks (engine.url set).
func (c nodeConfig) engineMode() bool { return c.Engine.URL != "" }

// validateEngine checks engine mode's settings: the sequencer's as op-geth
// takes them, and that op-geth's JSON-RPC is not Strata's own listener.
func (c nodeConfig) validateEngine() []error {
	var errs []error
	if c.Mode == "follower" {
		errs = append(errs, errors.New("engine.url is for the fullstack and sequencer modes; to follow an op-geth, set follower.url"))
	}
	if c.Follower.URL != "" || c.Follower.GenesisFile != "" {
		errs = append(errs, errors.New("follower.url and follower.genesis are for follower mode: engine mode follows op-geth at engine.rpc, from the genesis it writes to the datadir"))
	}
	seq := c.Sequencer
	if c.Mode == "sequencer" {
		seq.Load.GasPerSecond = 0
	}
	if err := c.Engine.Validate(seq); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.Engine.RPCURL); err == nil && u.Port() == strconv.Itoa(c.HTTPPort) && sameHost(u.Hostname(), c.HTTPAddr) {
		errs = append(errs, fmt.Errorf("engine.rpc %s is Strata's own JSON-RPC (http.addr %s, http.port %d): point it at op-geth's --http.port, or move Strata's http.port",
			c.Engine.RPCURL, c.HTTPAddr, c.HTTPPort))
	}
	return errs
}

// sameHost reports whether two listen or dial hosts may name the same
// interface: equal, both loopback, or one of them every interface.
func sameHost(a, b string) bool {
	loopback := func(h string) bool { ip := net.ParseIP(h); return h == "localhost" || ip != nil && ip.IsLoopback() }
	every := func(h string) bool { ip := net.ParseIP(h); return h == "" || ip != nil && ip.IsUnspecified() }
	return a == b || loopback(a) && loopback(b) || every(a) || every(b)
}

// loadSLOContract reads the contract whose SLOs the node enforces; an
// absent default file falls back to the built-in copy.
func loadSLOContract(path string) (*bench.Contract, error) {
	if path == "" {
		return bench.DefaultContract(), nil
	}
	c, err := bench.LoadContract(path)
	if errors.Is(err, os.ErrNotExist) && path == "configs/contract.yaml" {
		return bench.DefaultContract(), nil
	}
	return c, err
}
