package api

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/rpc"
)

// Namespace names the api registers (NewAPIs). The rpc server adds "rpc"
// (rpc_modules) to every listener by itself.
const (
	NamespaceEth      = "eth"
	NamespaceOptimism = "optimism"
	NamespaceDebug    = "debug"
	NamespaceStrata   = "strata"
)

// privilegedNamespaces are never served on a listener bound beyond loopback
// unless the operator lists them (geth's advice for debug and admin). Strata
// has no admin namespace; the name is kept so that listing it is refused
// as unknown rather than silently served if one is added.
var privilegedNamespaces = []string{NamespaceDebug, "admin"}

// NewAPIs builds the namespaces over one backend (the permits, limiters and
// node index are shared by every listener that serves them), for NewServer
// to choose from per listener as geth does. It does no I/O.
func NewAPIs(cfg Config) ([]rpc.API, error) {
	if cfg.ChainConfig == nil || cfg.Reader == nil {
		return nil, errors.New("api: chain config and reader are required")
	}
	if cfg.MaxStorageKeys <= 0 {
		cfg.MaxStorageKeys = defaultMaxStorageKeys
	}
	if cfg.ProofConcurrency <= 0 {
		cfg.ProofConcurrency = defaultProofConcurrency
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HeavyConcurrency <= 0 {
		cfg.HeavyConcurrency = defaultHeavyConcurrency
	}
	if cfg.DbGetConcurrency <= 0 {
		cfg.DbGetConcurrency = defaultDbGetConcurrency
	}
	if cfg.HeavyTimeout <= 0 {
		cfg.HeavyTimeout = defaultHeavyTimeout
	}
	if cfg.NodeIndexSize <= 0 {
		cfg.NodeIndexSize = defaultNodeIndexSize
	}
	if cfg.RootIndexBlocks <= 0 {
		cfg.RootIndexBlocks = defaultRootIndexBlocks
	}
	nodes := newNodeIndex(cfg.NodeIndexSize, cfg.RootIndexBlocks)
	cfg.Reader = notingReader{Reader: cfg.Reader, idx: nodes}
	b := &backend{
		cfg:     cfg,
		permits: newFairPermits(cfg.ProofConcurrency),
		heavy:   newLimiter(cfg.HeavyConcurrency, cfg.HeavyTimeout, cfg.DebugMetrics),
		dbget:   newLimiter(cfg.DbGetConcurrency, cfg.HeavyTimeout, cfg.DebugMetrics),
		nodes:   nodes,
	}
	return []rpc.API{
		{Namespace: NamespaceEth, Service: &EthAPI{b: b}},
		{Namespace: NamespaceOptimism, Service: &OptimismAPI{b: b}},
		{Namespace: NamespaceDebug, Service: &DebugAPI{b: b}},
		{Namespace: NamespaceStrata, Service: &StrataAPI{b: b}},
	}, nil
}

// selectNamespaces decides what one listener serves. nil requested means
// every namespace in apis, except the privileged ones (debug, admin) when
// the listener is not loopback-only: those are dropped with a warning. A
// non-nil list is served exactly (a privileged namespace listed for a public
// listener is served, with a warning); an unknown name is an error, listing
// what exists.
func selectNamespaces(listener string, requested []string, apis []rpc.API, loopback bool, log *slog.Logger) ([]string, error) {
	var available []string
	for _, a := range apis {
		if !slices.Contains(available, a.Namespace) {
			available = append(available, a.Namespace)
		}
	}
	if requested == nil {
		var out, dropped []string
		for _, ns := range available {
			if !loopback && slices.Contains(privilegedNamespaces, ns) {
				dropped = append(dropped, ns)
				continue
			}
			out = append(out, ns)
		}
		if len(dropped) > 0 {
			log.Warn("Namespaces not served on a non-loopback listener unless listed", "listener", listener,
				"dropped", strings.Join(dropped, ","), "serving", strings.Join(out, ","))
		}
		return out, nil
	}
	var out []string
	for _, ns := range requested {
		ns = strings.TrimSpace(ns)
		if ns == "" || slices.Contains(out, ns) {
			continue
		}
		if !slices.Contains(available, ns) {
			return nil, fmt.Errorf("%s API list names %q: no such namespace (available: %s)", listener, ns, strings.Join(available, ","))
		}
		if !loopback && slices.Contains(privilegedNamespaces, ns) {
			log.Warn("Privileged namespace served on a non-loopback listener, as listed", "listener", listener, "namespace", ns)
		}
		out = append(out, ns)
	}
	return out, nil
}

// registerNamespaces registers the chosen namespaces of apis on srv.
func registerNamespaces(srv *rpc.Server, apis []rpc.API, namespaces []string) error {
	for _, a := range apis {
		if !slices.Contains(namespaces, a.Namespace) {
			continue
		}
		if err := srv.RegisterName(a.Namespace, a.Service); err != nil {
			return fmt.Errorf("register %s: %w", a.Namespace, err)
		}
	}
	return nil
}
