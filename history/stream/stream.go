// Package stream carries blocks from one Strata to another: a gRPC
// server-streaming service that sends, from a given block on, each block's
// header and state update, and a client that receives them. Messages are
// RLP in gRPC frames (content subtype "strata-rlp"), so the exact bytes of
// headers, transactions and receipts travel unchanged; the receiver ingests
// each update through its own root check, so it trusts nothing it is sent.
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
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/strata-chain/strata/history"
)

// Codec is the gRPC codec of the service: RLP.
type Codec struct{}

// CodecName is the gRPC content subtype the service uses.
const CodecName = "strata-rlp"

func (Codec) Name() string                       { return CodecName }
func (Codec) Marshal(v any) ([]byte, error)      { return rlp.EncodeToBytes(v) }
func (Codec) Unmarshal(data []byte, v any) error { return rlp.DecodeBytes(data, v) }
func init()                                      { encoding.RegisterCodec(Codec{}) }

// SubscribeRequest asks for every block from From on.
type SubscribeRequest struct{ From uint64 }

// HeaderRequest asks for the header of a block (reorg walks).
type HeaderRequest struct{ Number uint64 }

// HeaderReply is an RLP header.
type HeaderReply struct{ Header []byte }

// Update is one block on the wire.
type Update struct {
	Header       []byte // RLP
	HasBody      bool
	Transactions []byte // RLP list
	Receipts     []byte // RLP list of receipts in storage form
	Accounts     []Account
	Codes        []Code
}

// Account is one account's change on the wire.
type Account struct {
	AddrHash   common.Hash
	Deleted    bool
	Wiped      bool
	HasAccount bool
	Nonce      uint64
	Balance    *uint256.Int
	CodeHash   common.Hash
	Slots      []Slot
}

// Slot is a slot's new value (zero clears it).
type Slot struct{ Key, Value common.Hash }

// Code is a contract code by hash.
type Code struct {
	Hash common.Hash
	Code []byte
}

// Encode turns a BlockUpdate into its wire form.
func Encode(u *history.BlockUpdate) (*Update, error) {
	h, err := rlp.EncodeToBytes(u.Header)
	if err != nil {
		return nil, err
	}
	w := &Update{Header: h}
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
		a := Account{AddrHash: addrHash, Deleted: ch.Deleted, Wiped: ch.Wiped, Balance: new(uint256.Int)}
		if ch.Account != nil {
			a.HasAccount, a.Nonce, a.Balance, a.CodeHash = true, ch.Account.Nonce, ch.Account.Balance, ch.Account.CodeHash
		}
		for k, v := range ch.Storage {
			a.Slots = append(a.Slots, Slot{k, v})
		}
		w.Accounts = append(w.Accounts, a)
	}
	for hash, code := range u.Codes {
		w.Codes = append(w.Codes, Code{hash, code})
	}
	return w, nil
}

// Decode turns a wire update back into a BlockUpdate.
func Decode(w *Update) (*history.BlockUpdate, error) {
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
		ch := &history.AccountChange{Deleted: a.Deleted, Wiped: a.Wiped}
		if a.HasAccount {
			ch.Account = &history.Account{Nonce: a.Nonce, Balance: a.Balance, CodeHash: a.CodeHash}
		}
		if len(a.Slots) > 0 {
			ch.Storage = make(map[common.Hash]common.Hash, len(a.Slots))
			for _, s := range a.Slots {
				ch.Storage[s.Key] = s.Value
			}
		}
		u.Accounts[a.AddrHash] = ch
	}
	for _, c := range w.Codes {
		u.Codes[c.Hash] = c.Code
	}
	return u, nil
}

// Source is what a stream server reads.
type Source interface {
	Head() (history.Head, error)
	HeaderByNumber(n uint64) (*types.Header, error)
	UpdateAt(n uint64) (*history.BlockUpdate, error)
}

// server implements the service over a Source.
type server struct {
	src          Source
	genesisState func() (GenesisExport, error)
	poll         time.Duration
}

type service interface {
	subscribe(req *SubscribeRequest, s grpc.ServerStream) error
	genesis(req *struct{}, s grpc.ServerStream) error
	header(ctx context.Context, req *HeaderRequest) (*HeaderReply, error)
}

// serviceDesc is the gRPC service strata.v1.BlockStream.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: "strata.v1.BlockStream",
	HandlerType: (*service)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Header",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(HeaderRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(service).header(ctx, req)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Subscribe",
		ServerStreams: true,
		Handler: func(srv any, s grpc.ServerStream) error {
			req := new(SubscribeRequest)
			if err := s.RecvMsg(req); err != nil {
				return err
			}
			return srv.(service).subscribe(req, s)
		},
	}, {
		StreamName:    "Genesis",
		ServerStreams: true,
		Handler: func(srv any, s grpc.ServerStream) error {
			req := new(struct{})
			if err := s.RecvMsg(req); err != nil {
				return err
			}
			return srv.(service).genesis(req, s)
		},
	}},
}

// Register adds the BlockStream service over src to a gRPC server; any
// node (a sequencer or a follower) can serve it, so followers form a relay
// tree. genesisState exports block 0's state for followers starting from
// nothing.
func Register(s *grpc.Server, src Source, genesisState func() (GenesisExport, error)) {
	s.RegisterService(&serviceDesc, &server{src: src, genesisState: genesisState, poll: 20 * time.Millisecond})
}

func (s *server) header(_ context.Context, req *HeaderRequest) (*HeaderReply, error) {
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
	return &HeaderReply{Header: raw}, nil
}

// subscribe sends every block from req.From on, waiting for new ones.
func (s *server) subscribe(req *SubscribeRequest, ss grpc.ServerStream) error {
	ctx := ss.Context()
	n := req.From
	for {
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
		if err := ss.SendMsg(w); err != nil {
			return err
		}
		n++
	}
}

// Client receives blocks from another Strata.
type Client struct {
	conn *grpc.ClientConn
}

// Dial connects to a Strata's gRPC address (host:port).
func Dial(addr string, opts ...grpc.DialOption) (*Client, error) {
	opts = append(opts, grpc.WithDefaultCallOptions(grpc.CallContentSubtype(CodecName), grpc.MaxCallRecvMsgSize(256<<20)))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Header fetches the header of block n.
func (c *Client) Header(ctx context.Context, n uint64) (*types.Header, error) {
	var rep HeaderReply
	if err := c.conn.Invoke(ctx, "/strata.v1.BlockStream/Header", &HeaderRequest{Number: n}, &rep); err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(rep.Header, h); err != nil {
		return nil, fmt.Errorf("decode header %d: %w", n, err)
	}
	return h, nil
}

// Subscribe streams blocks from from on; recv returns them one by one.
func (c *Client) Subscribe(ctx context.Context, from uint64) (recv func() (*history.BlockUpdate, error), err error) {
	s, err := c.conn.NewStream(ctx, &serviceDesc.Streams[0], "/strata.v1.BlockStream/Subscribe")
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(&SubscribeRequest{From: from}); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	return func() (*history.BlockUpdate, error) {
		var w Update
		if err := s.RecvMsg(&w); err != nil {
			return nil, err
		}
		return Decode(&w)
	}, nil
}
