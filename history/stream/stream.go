// Package stream carries blocks from one Strata to another over the gRPC
// service strata.v1.BlockStream (api/proto/strata/v1/stream.proto; Go code
// generated into history/stream/streampb, a dependency-free leaf package on
// history's floor, so the stream imports nothing above it): from a given
// block on, each block's header, body and receipts in their exact RLP bytes
// and its state update. The receiver ingests each update through its own
// root check, so it trusts nothing it is sent.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-chain/strata/history"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// Encode turns a BlockUpdate into its wire form.
func Encode(u *history.BlockUpdate) (*pb.BlockUpdate, error) {
	h, err := rlp.EncodeToBytes(u.Header)
	if err != nil {
		return nil, err
	}
	w := &pb.BlockUpdate{Header: h}
	if u.Transactions != nil && u.Receipts != nil {
		w.HasBody = true
		if w.Transactions, err = rlp.EncodeToBytes(u.Transactions); err != nil {
			return nil, err
		}
		stored := make([]*types.ReceiptForStorage, len(u.Receipts))
		for i, r := range u.Receipts {
			stored[i] = (*types.ReceiptForStorage)(r)
		}
		if w.Receipts, err = rlp.EncodeToBytes(stored); err != nil {
			return nil, err
		}
	}
	for addrHash, ch := range u.Accounts {
		a := &pb.AccountChange{AddrHash: addrHash.Bytes(), Deleted: ch.Deleted, Wiped: ch.Wiped}
		if ch.Account != nil {
			a.HasAccount, a.Nonce, a.Balance, a.CodeHash = true, ch.Account.Nonce, ch.Account.Balance.Bytes(), ch.Account.CodeHash.Bytes()
		}
		for k, v := range ch.Storage {
			a.Slots = append(a.Slots, &pb.Slot{Key: k.Bytes(), Value: v.Bytes()})
		}
		w.Accounts = append(w.Accounts, a)
	}
	for hash, code := range u.Codes {
		w.Codes = append(w.Codes, &pb.Code{Hash: hash.Bytes(), Code: code})
	}
	return w, nil
}

func hash32(b []byte, what string) (common.Hash, error) {
	if len(b) != 32 {
		return common.Hash{}, fmt.Errorf("%s is %d bytes, want 32", what, len(b))
	}
	return common.BytesToHash(b), nil
}

func balance(b []byte) (*uint256.Int, error) {
	if len(b) > 32 {
		return nil, fmt.Errorf("balance of %d bytes", len(b))
	}
	return new(uint256.Int).SetBytes(b), nil
}

// Decode turns a wire update back into a BlockUpdate, rejecting malformed
// fields.
func Decode(w *pb.BlockUpdate) (*history.BlockUpdate, error) {
	u := &history.BlockUpdate{Header: new(types.Header), Accounts: map[common.Hash]*history.AccountChange{}, Codes: map[common.Hash][]byte{}}
	if err := rlp.DecodeBytes(w.Header, u.Header); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if w.HasBody {
		if err := rlp.DecodeBytes(w.Transactions, &u.Transactions); err != nil {
			return nil, fmt.Errorf("decode transactions of block %d: %w", u.Header.Number, err)
		}
		var stored []*types.ReceiptForStorage
		if err := rlp.DecodeBytes(w.Receipts, &stored); err != nil {
			return nil, fmt.Errorf("decode receipts of block %d: %w", u.Header.Number, err)
		}
		u.Receipts = make(types.Receipts, len(stored))
		for i, r := range stored {
			u.Receipts[i] = (*types.Receipt)(r)
		}
		if u.Transactions == nil {
			u.Transactions = types.Transactions{}
		}
	}
	for _, a := range w.Accounts {
		addrHash, err := hash32(a.AddrHash, "address hash")
		if err != nil {
			return nil, err
		}
		ch := &history.AccountChange{Deleted: a.Deleted, Wiped: a.Wiped}
		if a.HasAccount {
			bal, err := balance(a.Balance)
			if err != nil {
				return nil, err
			}
			codeHash, err := hash32(a.CodeHash, "code hash")
			if err != nil {
				return nil, err
			}
			ch.Account = &history.Account{Nonce: a.Nonce, Balance: bal, CodeHash: codeHash}
		}
		if len(a.Slots) > 0 {
			ch.Storage = make(map[common.Hash]common.Hash, len(a.Slots))
			for _, s := range a.Slots {
				k, err := hash32(s.Key, "slot key")
				if err != nil {
					return nil, err
				}
				v, err := hash32(s.Value, "slot value")
				if err != nil {
					return nil, err
				}
				ch.Storage[k] = v
			}
		}
		u.Accounts[addrHash] = ch
	}
	for _, c := range w.Codes {
		h, err := hash32(c.Hash, "code hash")
		if err != nil {
			return nil, err
		}
		u.Codes[h] = c.Code
	}
	return u, nil
}

// Source is what a stream server reads.
type Source interface {
	Head() (history.Head, error)
	HeaderByNumber(n uint64) (*types.Header, error)
	UpdateAt(n uint64) (*history.BlockUpdate, error)
}

// GenesisExport is block 0's state as a genesis source that must be closed.
type GenesisExport interface {
	history.GenesisSource
	Close() error
}

// server implements strata.v1.BlockStream over a Source.
type server struct {
	pb.UnimplementedBlockStreamServer
	src          Source
	genesisState func() (GenesisExport, error)
	poll         time.Duration
}

// Register adds the BlockStream service over src to a gRPC server; any
// node (a sequencer or a follower) can serve it, so followers form a relay
// tree. genesisState exports block 0's state for followers starting from
// nothing.
func Register(s *grpc.Server, src Source, genesisState func() (GenesisExport, error)) {
	pb.RegisterBlockStreamServer(s, &server{src: src, genesisState: genesisState, poll: 20 * time.Millisecond})
}

func (s *server) Header(_ context.Context, req *pb.HeaderRequest) (*pb.HeaderReply, error) {
	h, err := s.src.HeaderByNumber(req.Number)
	if errors.Is(err, history.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "block %d not held", req.Number)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	raw, err := rlp.EncodeToBytes(h)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pb.HeaderReply{Header: raw}, nil
}

// Head returns the header of the newest held block.
func (s *server) Head(context.Context, *pb.HeadRequest) (*pb.HeaderReply, error) {
	head, err := s.src.Head()
	if errors.Is(err, history.ErrEmpty) {
		return nil, status.Error(codes.Unavailable, "the store holds no block yet")
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return s.Header(context.Background(), &pb.HeaderRequest{Number: head.Number})
}

// Subscribe sends every block from req.From on, waiting for new ones, and
// ends after req.To when it is set.
func (s *server) Subscribe(req *pb.SubscribeRequest, ss grpc.ServerStreamingServer[pb.BlockUpdate]) error {
	ctx := ss.Context()
	n := req.From
	if req.To != 0 && req.To < req.From {
		return status.Errorf(codes.InvalidArgument, "range %d-%d is empty", req.From, req.To)
	}
	for req.To == 0 || n <= req.To {
		head, err := s.src.Head()
		if err != nil && !errors.Is(err, history.ErrEmpty) {
			return status.Error(codes.Internal, err.Error())
		}
		if err != nil || n > head.Number {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(s.poll):
			}
			continue
		}
		u, err := s.src.UpdateAt(n)
		if err != nil {
			return status.Errorf(codes.Internal, "block %d: %v", n, err)
		}
		w, err := Encode(u)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		if err := ss.Send(w); err != nil {
			return err
		}
		n++
	}
	return nil
}

// Client receives blocks from another Strata.
type Client struct {
	conn *grpc.ClientConn
	c    pb.BlockStreamClient
}

// Dial connects to a Strata's gRPC address (host:port).
func Dial(addr string, opts ...grpc.DialOption) (*Client, error) {
	opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, c: pb.NewBlockStreamClient(conn)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Header fetches the header of block n.
func (c *Client) Header(ctx context.Context, n uint64) (*types.Header, error) {
	rep, err := c.c.Header(ctx, &pb.HeaderRequest{Number: n})
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(rep.Header, h); err != nil {
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	return h, nil
}

// Head fetches the header of the server's newest block.
func (c *Client) Head(ctx context.Context) (*types.Header, error) {
	rep, err := c.c.Head(ctx, &pb.HeadRequest{})
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(rep.Header, h); err != nil {
		return nil, fmt.Errorf("decode head header: %w", err)
	}
	return h, nil
}

// Subscribe streams blocks from from on; recv returns them one by one.
func (c *Client) Subscribe(ctx context.Context, from uint64) (recv func() (*history.BlockUpdate, error), err error) {
	return c.Range(ctx, from, 0)
}

// Range streams blocks from..to (to = 0: without end); after block to, recv
// returns io.EOF.
func (c *Client) Range(ctx context.Context, from, to uint64) (recv func() (*history.BlockUpdate, error), err error) {
	s, err := c.c.Subscribe(ctx, &pb.SubscribeRequest{From: from, To: to})
	if err != nil {
		return nil, err
	}
	return func() (*history.BlockUpdate, error) {
		w, err := s.Recv()
		if err != nil {
			return nil, err
		}
		return Decode(w)
	}, nil
}
