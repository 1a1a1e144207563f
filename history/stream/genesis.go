package stream

import (
	"context"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-chain/strata/history"
)

// GenesisItem is one message of the Genesis stream: an account, or a chunk
// of the preceding account's slots (Last marks its final chunk).
type GenesisItem struct {
	IsAccount  bool
	AddrHash   common.Hash
	Nonce      uint64
	Balance    *uint256.Int
	CodeHash   common.Hash
	Code       []byte
	HasStorage bool
	Slots      []Slot
	Last       bool
}

// slotChunk bounds the slots of one message.
const slotChunk = 4096

// GenesisExport is a genesis source that must be closed.
type GenesisExport interface {
	history.GenesisSource
	Close() error
}

func (s *server) genesis(_ *struct{}, ss grpc.ServerStream) error {
	if s.genesisState == nil {
		return status.Error(codes.Unimplemented, "this node cannot export its genesis state")
	}
	g, err := s.genesisState()
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	defer g.Close()
	for {
		ga, err := g.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		item := &GenesisItem{IsAccount: true, AddrHash: ga.AddrHash, Nonce: ga.Account.Nonce, Balance: ga.Account.Balance,
			CodeHash: ga.Account.CodeHash, Code: ga.Code, HasStorage: ga.Storage != nil}
		if err := ss.SendMsg(item); err != nil {
			return err
		}
		if ga.Storage == nil {
			continue
		}
		chunk := &GenesisItem{Balance: new(uint256.Int)}
		err = ga.Storage(func(k, v common.Hash) error {
			chunk.Slots = append(chunk.Slots, Slot{k, v})
			if len(chunk.Slots) == slotChunk {
				if err := ss.SendMsg(chunk); err != nil {
					return err
				}
				chunk.Slots = chunk.Slots[:0]
			}
			return nil
		})
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		chunk.Last = true
		if err := ss.SendMsg(chunk); err != nil {
			return err
		}
	}
}

// genesisSource is a history.GenesisSource reading the Genesis stream.
type genesisSource struct {
	s grpc.ClientStream
}

// Genesis streams another Strata's block-0 state, for history.GenesisLoader.
func (c *Client) Genesis(ctx context.Context) (history.GenesisSource, error) {
	s, err := c.conn.NewStream(ctx, &serviceDesc.Streams[1], "/strata.v1.BlockStream/Genesis")
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(&struct{}{}); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	return &genesisSource{s: s}, nil
}

func (g *genesisSource) recv() (*GenesisItem, error) {
	var it GenesisItem
	if err := g.s.RecvMsg(&it); err != nil {
		return nil, err
	}
	return &it, nil
}

func (g *genesisSource) Next() (*history.GenesisAccount, error) {
	it, err := g.recv()
	if err != nil {
		return nil, err // io.EOF at the end
	}
	if !it.IsAccount {
		return nil, fmt.Errorf("genesis stream: slots without an account")
	}
	ga := &history.GenesisAccount{AddrHash: it.AddrHash, Account: history.Account{Nonce: it.Nonce, Balance: it.Balance, CodeHash: it.CodeHash}, Code: it.Code}
	if it.HasStorage {
		ga.Storage = func(yield func(common.Hash, common.Hash) error) error {
			for {
				chunk, err := g.recv()
				if err != nil {
					return fmt.Errorf("genesis stream: slots of %s: %w", it.AddrHash, err)
				}
				if chunk.IsAccount {
					return fmt.Errorf("genesis stream: slots of %s cut short", it.AddrHash)
				}
				for _, s := range chunk.Slots {
					if err := yield(s.Key, s.Value); err != nil {
						return err
					}
				}
				if chunk.Last {
					return nil
				}
			}
		}
	}
	return ga, nil
}
