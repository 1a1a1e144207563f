package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/strata-chain/strata/api"
	"github.com/strata-chain/strata/sequencer"
)

// option is one configuration key. The key is also the flag name
// (--http.port) and, upper-cased with dots as underscores and a STRATA_
// prefix, the environment variable (STRATA_HTTP_PORT).
type option struct {
	key   string
	def   any // string, int, uint64, int64, bool or time.Duration
	usage string
}

// seqDefaults holds the sequencer's defaults, written once in
// sequencer.DefaultConfig.
var seqDefaults = sequencer.DefaultConfig()

// options lists every configuration key; configs/devnet.yaml documents them.
var options = []option{
	{"mode", "fullstack", "fullstack (sequencer + load generator + proof API), sequencer (no load generator) or follower"},
	{"datadir", "./data", "directory of the Pebble history store"},
	{"log.level", "info", "log level: debug, info, warn, error"},
	{"log.format", "auto", "log format: auto, text or json"},
	{"http.addr", "127.0.0.1", "JSON-RPC HTTP listen address"},
	{"http.port", 8545, "JSON-RPC HTTP port (0 picks a free port)"},
	{"ws.port", 8546, "JSON-RPC WebSocket port (0 disables)"},
	{"http.api", "", "namespaces the HTTP listener serves, comma-separated, from eth, optimism, debug, strata (empty: all on a loopback http.addr; all but debug on any other)"},
	{"ws.api", "", "namespaces the WebSocket listener serves, as http.api"},
	{"http.vhosts", "localhost", "comma-separated Host headers HTTP requests may carry (IP hosts are always accepted; * accepts all); others get 403 invalid host specified, as geth"},
	{"http.corsdomain", "", "comma-separated browser origins that get CORS headers (* any; empty: none, as geth)"},
	{"ws.origins", "", "comma-separated Origin headers a WebSocket upgrade may carry (* any; empty: geth's default, http://localhost and http://<hostname>)"},
	{"rpc.http_body_limit", api.DefaultHTTPBodyLimit, "largest JSON-RPC HTTP request body in bytes (413 above it)"},
	{"rpc.ws_read_limit", int64(api.DefaultWSReadLimit), "largest WebSocket message in bytes (the connection closes above it)"},
	{"rpc.batch_request_limit", api.DefaultBatchRequestLimit, "most calls in one JSON-RPC batch"},
	{"rpc.batch_response_max_size", api.DefaultBatchResponseMaxSize, "largest JSON-RPC batch response in bytes"},
	{"rpc.ratelimit", 0, "requests per second each remote IP may make over HTTP (0 disables; over it: 429 and -32005)"},
	{"rpc.ratelimit_burst", 0, "requests an idle client may make at once under rpc.ratelimit (0: the rate, at least 1)"},
	{"grpc.addr", "127.0.0.1", "gRPC listen address (loopback by default; see docs/endpoint-posture.md before exposing it)"},
	{"metrics.addr", "127.0.0.1", "metrics, /healthz and /readyz listen address (loopback by default)"},
	{"grpc.port", 9545, "gRPC port of the health service, the block stream (strata.v1.BlockStream) followers read and the Status service (0 disables)"},
	{"metrics.port", 6060, "Prometheus metrics, /healthz and /readyz port (0 disables)"},
	{"status.interval", time.Second, "interval of the status line (0 disables)"},
	{"history.node_cache_entries", 262144, "trie nodes kept in the hash-keyed node cache"},
	{"history.block_cache_bytes", int64(256 << 20), "Pebble block cache in bytes"},
	{"sequencer.chain_id", seqDefaults.ChainID, "chain ID of the devnet (an OP Stack chain; not 900, the synthetic L1's)"},
	{"sequencer.block_time", seqDefaults.BlockTime, "block time"},
	{"sequencer.timestamp_policy", string(seqDefaults.TimestampPolicy), "header timestamps: seconds (whole seconds, shared within a second) or milliseconds"},
	{"sequencer.gas_limit", seqDefaults.GasLimit, "block gas limit"},
	{"sequencer.dev_accounts", seqDefaults.DevAccounts, "prefunded dev accounts in the genesis"},
	{"sequencer.l1_block_time", seqDefaults.L1BlockTime, "how often the synthetic L1 origin named by each block's L1-attributes deposit advances, in chain time"},
	{"sequencer.deposits_per_epoch", seqDefaults.DepositsPerEpoch, "user deposits (1 ETH minted each) in the first block of every L1 epoch"},
	{"sequencer.jovian_after", int64(*seqDefaults.Forks.JovianAfter), "seconds after genesis at which Jovian activates (0: at genesis, -1: never); Bedrock through Isthmus are active at genesis"},
	{"sequencer.load.gas_per_second", seqDefaults.Load.GasPerSecond, "gas per second of the built-in load generator (0 disables)"},
	{"sequencer.load.seed", seqDefaults.Load.Seed, "seed of the built-in load generator"},
	{"engine.url", "", "fullstack and sequencer modes: op-geth's Engine API (authrpc) URL, e.g. http://127.0.0.1:8551; set, op-geth builds the blocks (engine mode: whole-second block times under the seconds timestamp policy) and Strata follows it; empty, the in-process sequencer makes them"},
	{"engine.jwt", "", "engine mode: the JWT secret file op-geth's --authrpc.jwtsecret reads"},
	{"engine.rpc", sequencer.DefaultEngineConfig().RPCURL, "engine mode: op-geth's JSON-RPC URL (its --http.port, which must differ from Strata's http.port): the genesis and head are read there, transactions go to its pool, and Strata follows it"},
	{"rollup.config", "", "follower mode: the followed OP chain's op-node rollup config (rollup.json), checked against the genesis and served by optimism_rollupConfig (the sequencer modes serve their own)"},
	{"follower.url", "", "follower mode: the upstream, an execution client's JSON-RPC (http:// or ws://) or another Strata's gRPC block stream (strata://host:grpc-port)"},
	{"follower.genesis", "", "follower mode: the upstream chain's genesis file (geth format)"},
	{"follower.poll_interval", 50 * time.Millisecond, "follower mode: how often the upstream head is polled"},
	{"follower.max_reorg_depth", uint64(64), "follower mode: the deepest reorg unwound; deeper halts"},
	{"follower.request_timeout", 10 * time.Second, "follower mode: timeout of one upstream request"},
	{"catchup.threshold", uint64(25), "follower mode: blocks behind a Strata upstream at which parallel catch-up replay takes over (0 never)"},
	{"catchup.batch_blocks", 32, "catch-up: blocks replayed and committed per batch (one fsync; a crash resumes from the last batch)"},
	{"catchup.fetchers", 2, "catch-up: batches fetched ahead while one replays (memory bound: fetchers+1 batches)"},
	{"catchup.workers", 0, "catch-up: goroutines replaying storage tries (0: one per core)"},
	{"retention.recent", time.Hour, "retention: span of the recent tier (every trie-node version); 0 keeps every version of every block"},
	{"retention.window", 168 * time.Hour, "retention: span of the window tier below it (node versions at checkpoints, per-block flat diffs)"},
	{"retention.checkpoint", uint64(16), "retention: the window keeps the trie every this many blocks (a proof between is rebuilt from the checkpoint below)"},
	{"retention.pinned", "0x4200000000000000000000000000000000000016", "retention: comma-separated accounts whose full history is kept forever (withdrawal proofs at any age)"},
	{"api.future_wait", time.Duration(0), "how long a request for a block above the head waits for it (0: answer header not found at once, naming the head)"},
	{"slo.contract", "configs/contract.yaml", "the shipping contract whose lag and ingest SLOs /readyz enforces (built-in defaults if the file is absent)"},
}

// addFlags registers every option as a flag of fs.
func addFlags(fs *pflag.FlagSet) {
	for _, o := range options {
		switch d := o.def.(type) {
		case string:
			fs.String(o.key, d, o.usage)
		case int:
			fs.Int(o.key, d, o.usage)
		case int64:
			fs.Int64(o.key, d, o.usage)
		case uint64:
			fs.Uint64(o.key, d, o.usage)
		case bool:
			fs.Bool(o.key, d, o.usage)
		case time.Duration:
			fs.Duration(o.key, d, o.usage)
		default:
			panic(fmt.Sprintf("option %s: unsupported default type %T", o.key, o.def))
		}
	}
}

// loadConfig layers defaults, the config file, STRATA_* variables and flags.
func loadConfig(fs *pflag.FlagSet, file string) (*viper.Viper, error) {
	v := viper.New()
	v.SetEnvPrefix("STRATA")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for _, o := range options {
		v.SetDefault(o.key, o.def)
		if err := v.BindPFlag(o.key, fs.Lookup(o.key)); err != nil {
			return nil, err
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read config %s: %w", file, err)
		}
		known := map[string]bool{"config": true}
		for _, o := range options {
			known[o.key] = true
		}
		var unknown []error
		for _, k := range v.AllKeys() {
			if !known[k] {
				unknown = append(unknown, fmt.Errorf("unknown key %q", k))
			}
		}
		if len(unknown) > 0 {
			return nil, fmt.Errorf("config %s: %w", file, errors.Join(unknown...))
		}
	}
	return v, nil
}

// listOption reads a comma-separated option as a list; empty is nil, which
// the consumer reads as its default.
func listOption(v *viper.Viper, key string) []string {
	var out []string
	for _, s := range strings.Split(v.GetString(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// loopbackIfEmpty is the operator listeners' default host: loopback.
func loopbackIfEmpty(host string) string {
	if host == "" {
		return "127.0.0.1"
	}
	return host
}
