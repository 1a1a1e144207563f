package archive

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/stream"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// A block's forward update is its state change in the stream's wire form
// (without body and receipts, which have their own keys), zstd-compressed.
// It is kept under forwardPrefix until the disk layer covers the block: a
// restart replays it to rebuild the diff layers a crash lost.

var (
	zstdOnce sync.Once
	zenc     *zstd.Encoder
	zdec     *zstd.Decoder
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	})
	return zenc, zdec
}

// encodeForward encodes u's state change.
func encodeForward(u *history.BlockUpdate) ([]byte, error) {
	state := *u
	state.Transactions, state.Receipts, state.Nodes, state.NodesComplete = nil, nil, nil, false
	w, err := stream.Encode(&state)
	if err != nil {
		return nil, fmt.Errorf("encode forward update: %w", err)
	}
	raw, err := proto.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode forward update: %w", err)
	}
	enc, _ := codecs()
	return enc.EncodeAll(raw, nil), nil
}

// decodeForward decodes what encodeForward wrote.
func decodeForward(b []byte) (*history.BlockUpdate, error) {
	_, dec := codecs()
	raw, err := dec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress forward update: %w", err)
	}
	w := new(pb.BlockUpdate)
	if err := proto.Unmarshal(raw, w); err != nil {
		return nil, fmt.Errorf("decode forward update: %w", err)
	}
	return stream.Decode(w)
}
