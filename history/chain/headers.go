package chain

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// HeaderReader gives canonical headers by number.
type HeaderReader interface {
	HeaderByNumber(n uint64) (*types.Header, error)
}

// Context is core.ChainContext over canonical headers, for BLOCKHASH. The
// EVM asks it for nothing else: Strata always names the block's author, so
// the consensus engine is never consulted.
type Context struct {
	config  *params.ChainConfig
	headers HeaderReader
}

var _ core.ChainContext = Context{}

// NewContext returns the chain context of a chain with that configuration.
func NewContext(config *params.ChainConfig, headers HeaderReader) Context {
	return Context{config: config, headers: headers}
}

func (c Context) Config() *params.ChainConfig  { return c.config }
func (c Context) CurrentHeader() *types.Header { return nil }

// GetHeader is the canonical header number if its hash is hash.
func (c Context) GetHeader(hash common.Hash, number uint64) *types.Header {
	h := c.GetHeaderByNumber(number)
	if h == nil || h.Hash() != hash {
		return nil
	}
	return h
}

// GetHeaderByNumber is the canonical header number, nil if unknown.
func (c Context) GetHeaderByNumber(number uint64) *types.Header {
	h, err := c.headers.HeaderByNumber(number)
	if err != nil {
		return nil
	}
	return h
}

func (c Context) GetHeaderByHash(common.Hash) *types.Header { return nil }
func (c Context) Engine() consensus.Engine                  { return nil }
