package stream

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/strata-chain/strata/history"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// Golden frames: testdata/frames/NAME.bin is a strata.v1.BlockUpdate
// message exactly as a Strata sent it (Encode, then proto.Marshal), and
// NAME.txt is what it decodes to (dumpUpdate). Nodes of different builds
// follow each other, so every frame an older build wrote must keep decoding
// to the same update. Never regenerate an existing file: when the wire
// format changes, add a new case and keep the old ones. A missing file is
// written by
//
//	STRATA_GOLDEN_WRITE=1 go test -run TestGoldenFrames ./history/stream/
const goldenFrames = "testdata/frames"

// goldenUpdates are the updates the golden frames were made from.
func goldenUpdates(t *testing.T) map[string]*history.BlockUpdate {
	t.Helper()
	key, err := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	require.NoError(t, err)
	config := params.OptimismTestConfig
	signer := types.LatestSigner(config)
	to := common.HexToAddress("0x4200000000000000000000000000000000000016")
	depositNonce, version := uint64(41), uint64(1)
	txs := types.Transactions{
		types.NewTx(&types.DepositTx{
			SourceHash: common.HexToHash("0x5e"), From: common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
			To: &to, Mint: big.NewInt(0), Value: big.NewInt(0), Gas: 1_000_000, IsSystemTransaction: false, Data: []byte{0x44, 0x0a, 0x5e, 0x20},
		}),
		types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: config.ChainID, Nonce: 7, GasTipCap: big.NewInt(1e6), GasFeeCap: big.NewInt(2e9), Gas: 60_000, To: &to,
			Value: big.NewInt(12345), Data: []byte{0xc2, 0xb1, 0x2a, 0x73},
		}),
		types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: config.ChainID, Nonce: 8, GasTipCap: big.NewInt(1e6), GasFeeCap: big.NewInt(2e9), Gas: 300_000,
			Data: []byte{0x60, 0x00, 0x60, 0x00, 0xf3}, // a creation
		}),
	}
	receipts := types.Receipts{
		{Type: types.DepositTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 47_000, DepositNonce: &depositNonce, DepositReceiptVersion: &version, Logs: []*types.Log{}},
		{Type: types.DynamicFeeTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 90_000, Logs: []*types.Log{{
			Address: to, Topics: []common.Hash{common.HexToHash("0x02a52367d10742d8032712c1bb8e0144ff1ec5ffda1ed7d70bb05a2744955054"), common.HexToHash("0x1")},
			Data: []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x39},
		}}},
		{Type: types.DynamicFeeTxType, Status: types.ReceiptStatusFailed, CumulativeGasUsed: 390_000, Logs: []*types.Log{}},
	}
	withdrawalsRoot := common.HexToHash("0x8ed4baae3a927be3dea54996b4d5899f8c01e7594bf50b17dc1e741388ce3d12")
	beaconRoot, requests := common.HexToHash("0xbeac"), types.EmptyRequestsHash
	blobGas, excess := uint64(0), uint64(0)
	opHeader := &types.Header{
		ParentHash: common.HexToHash("0x1111"), UncleHash: types.EmptyUncleHash, Coinbase: common.HexToAddress("0x4200000000000000000000000000000000000011"),
		Root: common.HexToHash("0x2222"), TxHash: types.DeriveSha(txs, trie.NewStackTrie(nil)), ReceiptHash: types.DeriveSha(receipts, trie.NewStackTrie(nil)),
		Difficulty: new(big.Int), Number: big.NewInt(1234), GasLimit: 30_000_000, GasUsed: 390_000, Time: 1_700_000_246,
		Extra: []byte{1, 0, 0, 0, 250, 0, 0, 0, 6}, BaseFee: big.NewInt(1_000_000), WithdrawalsHash: &withdrawalsRoot,
		BlobGasUsed: &blobGas, ExcessBlobGas: &excess, ParentBeaconRoot: &beaconRoot, RequestsHash: &requests,
	}
	code := []byte{0x60, 0x80, 0x60, 0x40, 0x52, 0x00}
	codeHash := crypto.Keccak256Hash(code)
	a, b, c, d := crypto.Keccak256Hash([]byte{0xa}), crypto.Keccak256Hash([]byte{0xb}), crypto.Keccak256Hash([]byte{0xc}), crypto.Keccak256Hash([]byte{0xd})
	slot := func(i byte) common.Hash { return crypto.Keccak256Hash(common.LeftPadBytes([]byte{i}, 32)) }
	accounts := func() map[common.Hash]*history.AccountChange {
		return map[common.Hash]*history.AccountChange{
			a: {Account: &history.Account{Nonce: 9, Balance: uint256.MustFromDecimal("1000000000000000000000"), CodeHash: types.EmptyCodeHash}},
			b: {Account: &history.Account{Nonce: 1, Balance: new(uint256.Int), CodeHash: codeHash}, Storage: map[common.Hash]common.Hash{
				slot(0): common.HexToHash("0x2a"), slot(1): {}, slot(2): common.MaxHash,
			}},
			c: {Deleted: true},
			d: {Wiped: true, Account: &history.Account{Nonce: 1, Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash}, Storage: map[common.Hash]common.Hash{slot(3): common.HexToHash("0x33")}},
		}
	}
	return map[string]*history.BlockUpdate{
		// An Isthmus block: a deposit, a call that logs, a failed creation;
		// accounts set, deleted, wiped and re-created; new code.
		"op-block": {Header: opHeader, Transactions: txs, Receipts: receipts, Accounts: accounts(), Codes: map[common.Hash][]byte{codeHash: code}},
		// A block without transactions (HasBody with empty lists).
		"empty-body": {
			Header:       &types.Header{ParentHash: common.HexToHash("0x3333"), Root: common.HexToHash("0x4444"), Number: big.NewInt(7), Difficulty: new(big.Int), UncleHash: types.EmptyUncleHash, TxHash: types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash},
			Transactions: types.Transactions{}, Receipts: types.Receipts{},
			Accounts: map[common.Hash]*history.AccountChange{a: {Account: &history.Account{Balance: uint256.NewInt(1), CodeHash: types.EmptyCodeHash}}},
			Codes:    map[common.Hash][]byte{},
		},
		// A state-only update (a producer without the body): no HasBody.
		"state-only": {Header: &types.Header{Number: big.NewInt(0), Root: common.HexToHash("0x5555"), Difficulty: new(big.Int)}, Accounts: accounts(), Codes: map[common.Hash][]byte{codeHash: code}},
	}
}

// dumpUpdate renders everything the wire carries of an update, sorted, one
// fact a line: the golden .txt files and the round-trip checks compare it.
// Hashes stand for the header's and each transaction's every field.
func dumpUpdate(u *history.BlockUpdate) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	p("header %s number %v root %s", u.Header.Hash(), u.Header.Number, u.Header.Root)
	switch {
	case u.Transactions == nil && u.Receipts == nil:
		p("no body")
	default:
		p("body: %d transactions, %d receipts", len(u.Transactions), len(u.Receipts))
	}
	for i, tx := range u.Transactions {
		p("tx %d %s type %d", i, tx.Hash(), tx.Type())
	}
	for i, r := range u.Receipts {
		status := fmt.Sprint(r.Status)
		if len(r.PostState) > 0 {
			status = "post-state " + hexutil.Encode(r.PostState)
		}
		dn, dv := "-", "-"
		if r.DepositNonce != nil {
			dn = fmt.Sprint(*r.DepositNonce)
		}
		if r.DepositReceiptVersion != nil {
			dv = fmt.Sprint(*r.DepositReceiptVersion)
		}
		p("receipt %d status %s cumulative gas %d deposit nonce %s version %s logs %d", i, status, r.CumulativeGasUsed, dn, dv, len(r.Logs))
		for j, l := range r.Logs {
			p("  log %d %s topics %v data %s", j, l.Address, l.Topics, hexutil.Encode(l.Data))
		}
	}
	for _, k := range sortedHashes(u.Accounts) {
		ch := u.Accounts[k]
		acct := "unchanged"
		if ch.Account != nil {
			acct = fmt.Sprintf("nonce %d balance %s code %s", ch.Account.Nonce, ch.Account.Balance.Dec(), ch.Account.CodeHash)
		}
		p("account %s deleted %v wiped %v %s slots %d", k, ch.Deleted, ch.Wiped, acct, len(ch.Storage))
		for _, s := range sortedHashes(ch.Storage) {
			p("  slot %s = %s", s, ch.Storage[s])
		}
	}
	for _, h := range sortedHashes(u.Codes) {
		p("code %s %s", h, hexutil.Encode(u.Codes[h]))
	}
	return sb.String()
}

func sortedHashes[V any](m map[common.Hash]V) []common.Hash {
	keys := make([]common.Hash, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b common.Hash) int { return a.Cmp(b) })
	return keys
}

// decodeFrame is what a receiving Strata does with one message's bytes.
func decodeFrame(raw []byte) (*history.BlockUpdate, error) {
	var w pb.BlockUpdate
	if err := proto.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	return Decode(&w)
}

func encodeFrame(t testing.TB, u *history.BlockUpdate) []byte {
	t.Helper()
	w, err := Encode(u)
	require.NoError(t, err)
	raw, err := proto.Marshal(w)
	require.NoError(t, err)
	return raw
}

// TestGoldenFrames decodes every frame in testdata/frames to the update its
// .txt records, and checks that it survives another encode and decode.
func TestGoldenFrames(t *testing.T) {
	if os.Getenv("STRATA_GOLDEN_WRITE") != "" {
		for name, u := range goldenUpdates(t) {
			bin := filepath.Join(goldenFrames, name+".bin")
			if _, err := os.Stat(bin); err == nil {
				continue // never rewrite: older frames must keep decoding
			}
			raw := encodeFrame(t, u)
			back, err := decodeFrame(raw)
			require.NoError(t, err)
			require.Equal(t, dumpUpdate(u), dumpUpdate(back), name)
			require.NoError(t, os.MkdirAll(goldenFrames, 0o755))
			require.NoError(t, os.WriteFile(bin, raw, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(goldenFrames, name+".txt"), []byte(dumpUpdate(back)), 0o644))
			t.Logf("wrote %s", bin)
		}
	}
	bins, err := filepath.Glob(filepath.Join(goldenFrames, "*.bin"))
	require.NoError(t, err)
	require.NotEmpty(t, bins)
	for _, bin := range bins {
		name := strings.TrimSuffix(filepath.Base(bin), ".bin")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(bin)
			require.NoError(t, err)
			want, err := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".txt")
			require.NoError(t, err)
			u, err := decodeFrame(raw)
			require.NoError(t, err)
			require.Equal(t, string(want), dumpUpdate(u), "frame %s no longer decodes to what it did", bin)
			again, err := decodeFrame(encodeFrame(t, u))
			require.NoError(t, err)
			require.Equal(t, string(want), dumpUpdate(again), "re-encoded")
		})
	}
	// Today's encoder still makes updates that decode to what they were.
	for name, u := range goldenUpdates(t) {
		back, err := decodeFrame(encodeFrame(t, u))
		require.NoError(t, err)
		require.Equal(t, dumpUpdate(u), dumpUpdate(back), name)
	}
}
