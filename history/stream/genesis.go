package stream

import (
	"context"
	"fmt"
	"io"

	"github.com/ethereum/go-ethereum/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-chain/strata/history"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// slotChunk bounds the slots of one message.
const slotChunk = 4096

// Genesis sends block 0's state: each account, then its slots in chunks.
func (s *server) Genesis(_ *pb.GenesisRequest, ss grpc.ServerStreamingServer[pb.GenesisItem]) error {
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
		item := &pb.GenesisItem{IsAccount: true, AddrHash: ga.AddrHash.Bytes(), Nonce: ga.Account.Nonce, Balance: ga.Account.Balance.Bytes(),
			CodeHash: ga.Account.CodeHash.Bytes(), Code: ga.Code, HasStorage: ga.Storage != nil}
		if err := ss.Send(item); err != nil {
			return err
		}
		if ga.Storage == nil {
			continue
		}
		chunk := &pb.GenesisItem{}
		err = ga.Storage(func(k, v common.Hash) error {
			chunk.Slots = append(chunk.Slots, &pb.Slot{Key: k.Bytes(), Value: v.Bytes()})
			if len(chunk.Slots) == slotChunk {
				if err := ss.Send(chunk); err != nil {
					return err
				}
				chunk = &pb.GenesisItem{}
			}
			return nil
		})
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		chunk.Last = true
		if err := ss.Send(chunk); err != nil {
			return err
		}
	}
}

// genesisSource is a history.GenesisSource reading the Genesis stream.
type genesisSource struct {
	s grpc.ServerStreamingClient[pb.GenesisItem]
}

// Genesis streams another Strata's block-0 state, for history.GenesisLoader.
func (c *Client) Genesis(ctx context.Context) (history.GenesisSource, error) {
	s, err := c.c.Genesis(ctx, &pb.GenesisRequest{})
	if err != nil {
		return nil, err
	}
	return &genesisSource{s: s}, nil
}

func (g *genesisSource) Next() (*history.GenesisAccount, error) {
	it, err := g.s.Recv()
	if err != nil {
		return nil, err // io.EOF at the end
	}
	if !it.IsAccount {
		return nil, fmt.Errorf("genesis stream: slots without an account")
	}
	addrHash, err := hash32(it.AddrHash, "address hash")
	if err != nil {
		return nil, err
	}
	bal, err := balance(it.Balance)
	if err != nil {
		return nil, err
	}
	codeHash, err := hash32(it.CodeHash, "code hash")
	if err != nil {
		return nil, err
	}
	ga := &history.GenesisAccount{AddrHash: addrHash, Account: history.Account{Nonce: it.Nonce, Balance: bal, CodeHash: codeHash}, Code: it.Code}
	if it.HasStorage {
		ga.Storage = func(yield func(common.Hash, common.Hash) error) error {
			for {
				chunk, err := g.s.Recv()
				if err != nil {
					return fmt.Errorf("genesis stream: slots of %s: %w", addrHash, err)
				}
				if chunk.IsAccount {
					return fmt.Errorf("genesis stream: slots of %s cut short", addrHash)
				}
				for _, s := range chunk.Slots {
					k, err := hash32(s.Key, "slot key")
					if err != nil {
						return err
					}
					v, err := hash32(s.Value, "slot value")
					if err != nil {
						return err
					}
					if err := yield(k, v); err != nil {
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
