package archive

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// Pebble key prefixes. Live state (package live) has its own three.
const (
	metaPrefix     = 'm' // m + name -> value
	headerPrefix   = 'h' // h + block -> header RLP
	hashPrefix     = 'H' // H + block hash -> block
	bodyPrefix     = 'b' // b + block -> transactions RLP
	receiptPrefix  = 'r' // r + block -> receipts (storage RLP)
	txPrefix       = 't' // t + tx hash -> block, index
	codePrefix     = 'c' // c + code hash -> code
	forwardPrefix  = 'f' // f + block -> the block's forward update (forward.go)
	liveNodePrefix = 'L' // live trie nodes (package live)
	liveAccPrefix  = 'A' // live accounts
	liveSlotPrefix = 'S' // live slots
)

// Meta names.
const (
	metaSchema = "schema"  // the layout version (schemaVersion)
	metaHead   = "head"    // the newest committed block: number, hash, root
	metaOldest = "oldest"  // the oldest block whose state is held
	metaLive   = "flushed" // the disk layer's block and root (package live)
)

// schemaVersion is the v2 layout's version; v1 stores are at 1..6.
const schemaVersion = 100

func metaKey(name string) []byte { return append([]byte{metaPrefix}, name...) }

func blockKey(prefix byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, n)
}

func hashKey(prefix byte, h common.Hash) []byte { return append([]byte{prefix}, h[:]...) }

func encodeUint64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
