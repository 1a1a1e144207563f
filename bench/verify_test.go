package bench

import (
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"
	"github.com/stretchr/testify/require"
)

func proofList(t *testing.T, tr *trie.Trie, key []byte) []string {
	t.Helper()
	db := memorydb.New()
	require.NoError(t, tr.Prove(key, db))
	// Order root to leaf by walking the proof from the root hash.
	var out []string
	it := db.NewIterator(nil, nil)
	for it.Next() {
		out = append(out, hexutil.Encode(it.Value()))
	}
	it.Release()
	return out // VerifyAccountResult is order-insensitive
}

func TestVerifyAccountResult(t *testing.T) {
	tdb := triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil)
	storage := trie.NewEmpty(tdb)
	slot := common.HexToHash("0x01")
	val, _ := rlp.EncodeToBytes([]byte{0x2a})
	storage.MustUpdate(crypto.Keccak256(slot[:]), val)
	sroot := storage.Hash()

	accTrie := trie.NewEmpty(tdb)
	addr := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	acc := types.StateAccount{Nonce: 3, Balance: uint256.NewInt(1000), Root: sroot, CodeHash: types.EmptyCodeHash[:]}
	blob, _ := rlp.EncodeToBytes(&acc)
	accTrie.MustUpdate(crypto.Keccak256(addr[:]), blob)
	other := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	accTrie.MustUpdate(crypto.Keccak256(other[:]), blob)
	root := accTrie.Hash()

	answer := map[string]any{
		"address":      addr,
		"accountProof": proofList(t, accTrie, crypto.Keccak256(addr[:])),
		"balance":      "0x3e8",
		"codeHash":     types.EmptyCodeHash,
		"nonce":        "0x3",
		"storageHash":  sroot,
		"storageProof": []map[string]any{{"key": "0x1", "value": "0x2a", "proof": proofList(t, storage, crypto.Keccak256(slot[:]))}},
	}
	raw, _ := json.Marshal(answer)
	require.NoError(t, VerifyAccountResult(raw, root))

	for name, mutate := range map[string]func(m map[string]any){
		"wrong balance":    func(m map[string]any) { m["balance"] = "0x3e9" },
		"wrong slot value": func(m map[string]any) { m["storageProof"].([]map[string]any)[0]["value"] = "0x2b" },
		"wrong root":       func(m map[string]any) { m["storageHash"] = common.Hash{1} },
		"dropped node":     func(m map[string]any) { m["accountProof"] = m["accountProof"].([]string)[1:] },
	} {
		t.Run(name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range answer {
				m[k] = v
			}
			m["storageProof"] = []map[string]any{{"key": "0x1", "value": "0x2a", "proof": answer["storageProof"].([]map[string]any)[0]["proof"]}}
			mutate(m)
			raw, _ := json.Marshal(m)
			require.Error(t, VerifyAccountResult(raw, root))
		})
	}
	absent := map[string]any{
		"address": common.HexToAddress("0x00000000000000000000000000000000000000cc"), "accountProof": proofList(t, accTrie, crypto.Keccak256(common.HexToAddress("0xcc").Bytes())),
		"balance": "0x0", "codeHash": common.Hash{}, "nonce": "0x0", "storageHash": common.Hash{}, "storageProof": []any{},
	}
	raw, _ = json.Marshal(absent)
	require.NoError(t, VerifyAccountResult(raw, root))
}
