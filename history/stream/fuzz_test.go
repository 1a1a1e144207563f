package stream

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/strata-chain/strata/history"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// FuzzDecodeFrame feeds arbitrary bytes to what a follower does with each
// message of another Strata's block stream: protobuf, then Decode (header,
// transactions and receipts RLP, hashes, balances). Nothing may panic, and
// whatever decodes must encode and decode again to the same update.
func FuzzDecodeFrame(f *testing.F) {
	bins, _ := filepath.Glob(filepath.Join(goldenFrames, "*.bin"))
	for _, bin := range bins {
		raw, err := os.ReadFile(bin)
		require.NoError(f, err)
		f.Add(raw)
	}
	for _, u := range testChain(f) {
		f.Add(encodeFrame(f, u))
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x01, 0xc0})                      // header: an empty RLP list
	f.Add([]byte{0x10, 0x01, 0x1a, 0x01, 0xc1, 0x22, 0}) // has_body, a truncated transactions list
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, err := decodeFrame(raw)
		if err != nil {
			return
		}
		first := dumpUpdate(u)
		w, err := Encode(u)
		require.NoError(t, err, "a decoded update must encode")
		raw2, err := proto.Marshal(w)
		require.NoError(t, err)
		again, err := decodeFrame(raw2)
		require.NoError(t, err, "a re-encoded update must decode")
		require.Equal(t, first, dumpUpdate(again))
	})
}

// items is a GenesisItem stream read from a byte string of
// uvarint(len) message frames; it ends with io.EOF, or an error at a frame
// that does not parse.
type items struct {
	grpc.ClientStream // unused: only Recv is called
	raw               []byte
}

func (s *items) Recv() (*pb.GenesisItem, error) {
	if len(s.raw) == 0 {
		return nil, io.EOF
	}
	l, n := binary.Uvarint(s.raw)
	if n <= 0 || l > uint64(len(s.raw)-n) {
		return nil, fmt.Errorf("bad frame")
	}
	it := new(pb.GenesisItem)
	err := proto.Unmarshal(s.raw[n:n+int(l)], it)
	s.raw = s.raw[n+int(l):]
	return it, err
}

func frames(msgs ...*pb.GenesisItem) []byte {
	var out []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// readGenesis reads a genesis stream as the store's loader does (every
// account's slots before the next account) and dumps it; err is the first
// error.
func readGenesis(src history.GenesisSource) (dump string, accounts []*history.GenesisAccount, slots [][][2]common.Hash, err error) {
	var sb strings.Builder
	for {
		ga, err := src.Next()
		if err == io.EOF {
			return sb.String(), accounts, slots, nil
		}
		if err != nil {
			return "", nil, nil, err
		}
		fmt.Fprintf(&sb, "account %s nonce %d balance %s code %s %s storage %v\n", ga.AddrHash, ga.Account.Nonce, ga.Account.Balance.Dec(),
			ga.Account.CodeHash, hexutil.Encode(ga.Code), ga.Storage != nil)
		var kv [][2]common.Hash
		if ga.Storage != nil {
			if err := ga.Storage(func(k, v common.Hash) error {
				fmt.Fprintf(&sb, "  slot %s = %s\n", k, v)
				kv = append(kv, [2]common.Hash{k, v})
				return nil
			}); err != nil {
				return "", nil, nil, err
			}
		}
		accounts, slots = append(accounts, ga), append(slots, kv)
	}
}

// replayed is a GenesisExport that gives back accounts read before.
type replayed struct {
	accounts []*history.GenesisAccount
	slots    [][][2]common.Hash
}

func (r *replayed) Next() (*history.GenesisAccount, error) {
	if len(r.accounts) == 0 {
		return nil, io.EOF
	}
	ga, kv := *r.accounts[0], r.slots[0]
	r.accounts, r.slots = r.accounts[1:], r.slots[1:]
	if ga.Storage != nil {
		ga.Storage = func(yield func(common.Hash, common.Hash) error) error {
			for _, p := range kv {
				if err := yield(p[0], p[1]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return &ga, nil
}

func (r *replayed) Close() error { return nil }

// sent collects what the Genesis server sends.
type sent struct {
	grpc.ServerStream // unused: only Send is called
	items             []*pb.GenesisItem
}

func (s *sent) Send(it *pb.GenesisItem) error {
	s.items = append(s.items, proto.Clone(it).(*pb.GenesisItem))
	return nil
}

// FuzzGenesisStream feeds arbitrary frames to a follower's reader of
// another Strata's genesis state (accounts, each followed by its slots in
// chunks). Nothing may panic, and what it reads must, served again by the
// Genesis server, read back the same.
func FuzzGenesisStream(f *testing.F) {
	addr, code := make([]byte, 32), []byte{0x60, 0x00}
	addr[31] = 1
	slot := func(k, v byte) *pb.Slot {
		s := &pb.Slot{Key: make([]byte, 32), Value: make([]byte, 32)}
		s.Key[31], s.Value[31] = k, v
		return s
	}
	ch := common.HexToHash("0x2a").Bytes()
	f.Add(frames(
		&pb.GenesisItem{IsAccount: true, AddrHash: addr, Nonce: 1, Balance: []byte{1, 0}, CodeHash: ch, Code: code, HasStorage: true},
		&pb.GenesisItem{Slots: []*pb.Slot{slot(1, 2), slot(2, 3)}},
		&pb.GenesisItem{Slots: []*pb.Slot{slot(3, 4)}, Last: true},
		&pb.GenesisItem{IsAccount: true, AddrHash: common.MaxHash.Bytes(), CodeHash: ch},
	))
	f.Add(frames(&pb.GenesisItem{IsAccount: true, AddrHash: addr, CodeHash: ch, HasStorage: true}, &pb.GenesisItem{Last: true}))
	f.Add(frames(&pb.GenesisItem{Slots: []*pb.Slot{slot(1, 1)}}))                                            // slots first
	f.Add(frames(&pb.GenesisItem{IsAccount: true, AddrHash: addr, CodeHash: ch, HasStorage: true}))          // cut short
	f.Add(frames(&pb.GenesisItem{IsAccount: true, AddrHash: addr[:31], CodeHash: ch}))                       // short hash
	f.Add(frames(&pb.GenesisItem{IsAccount: true, AddrHash: addr, CodeHash: ch, Balance: make([]byte, 33)})) // long balance
	f.Add([]byte{0x05, 0x08, 0x01})                                                                          // a truncated frame
	f.Fuzz(func(t *testing.T, raw []byte) {
		dump, accounts, slots, err := readGenesis(&genesisSource{s: &items{raw: raw}})
		if err != nil {
			return
		}
		srv := &server{genesisState: func() (GenesisExport, error) { return &replayed{accounts, slots}, nil }}
		out := &sent{}
		require.NoError(t, srv.Genesis(&pb.GenesisRequest{}, out))
		again, _, _, err := readGenesis(&genesisSource{s: &items{raw: frames(out.items...)}})
		require.NoError(t, err, "a genesis read back must serve and read again")
		require.Equal(t, dump, again)
	})
}

// TestGenesisStreamReadsValidFrames: the fuzz target's valid seed reads
// through (so the fuzzer starts from inputs that reach the round trip).
func TestGenesisStreamReadsValidFrames(t *testing.T) {
	addr := common.HexToHash("0x1")
	item := &pb.GenesisItem{IsAccount: true, AddrHash: addr.Bytes(), Nonce: 1, Balance: []byte{1, 0}, CodeHash: common.HexToHash("0x2a").Bytes(), HasStorage: true}
	chunk := &pb.GenesisItem{Slots: []*pb.Slot{{Key: addr.Bytes(), Value: common.HexToHash("0x7").Bytes()}}, Last: true}
	dump, accounts, _, err := readGenesis(&genesisSource{s: &items{raw: frames(item, chunk)}})
	require.NoError(t, err)
	require.Len(t, accounts, 1)
	require.Equal(t, "account "+addr.Hex()+" nonce 1 balance 256 code "+common.HexToHash("0x2a").Hex()+" 0x storage true\n  slot "+addr.Hex()+" = "+common.HexToHash("0x7").Hex()+"\n", dump)
}
