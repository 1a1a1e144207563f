package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strata-chain/strata/history"
)

// The byte counters' meta name and the size of each block.
var (
	metaTierB  = []byte("tier-bytes") // moved(8) thinned(8) prunedRest(8) prunedDeleted(8)
	sizePrefix = []byte("z")          // z + block(8) -> logical bytes the block holds (8)
)

// tierBytes counts logical (uncompressed key + value) bytes as blocks move
// down the tiers. Ingest adds to ingested; Migrate owns the rest.
type tierBytes struct {
	ingested      atomic.Uint64 // everything ingest ever wrote for the blocks it holds
	moved         uint64        // bytes of blocks when they left the recent tier
	thinned       uint64        // deleted while thinning
	prunedRest    uint64        // bytes of blocks when they left the window
	prunedDeleted uint64        // deleted while pruning
	mu            sync.Mutex    // guards the four above against Tiers
}

func (t *tierBytes) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, t.moved)
	out = binary.BigEndian.AppendUint64(out, t.thinned)
	out = binary.BigEndian.AppendUint64(out, t.prunedRest)
	return binary.BigEndian.AppendUint64(out, t.prunedDeleted)
}

// metaIngested holds tierBytes.ingested; ingest writes it in each block's batch.
var metaIngested = []byte("ingested-bytes")

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func blockSize(r pebble.Reader, blk uint64) (uint64, error) {
	v, err := getFrom(r, blockKey(sizePrefix, blk))
	if errors.Is(err, history.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, fmt.Errorf("size of block %d: %v", blk, err)
	}
	return binary.BigEndian.Uint64(v), nil
}

// countBlockBytes records in b the logical bytes block n holds (its size
// key, for the tier accounting) and the new ingested total, and returns it.
func (s *Store) countBlockBytes(b *pebble.Batch, n, size, ingested uint64) (uint64, error) {
	if err := b.Set(blockKey(sizePrefix, n), encodeBlock(size), nil); err != nil {
		return 0, err
	}
	ingested += size
	return ingested, b.Set(metaKey(metaIngested), encodeBlock(ingested), nil)
}
