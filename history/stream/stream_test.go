package stream

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/strata-chain/strata/history/store"
	pb "github.com/strata-chain/strata/history/stream/streampb"
)

// TestRoundTripAndMalformed encodes real block updates through protobuf
// and back (each must still pass the receiving store's root check), and
// checks that malformed fields are refused.
func TestRoundTripAndMalformed(t *testing.T) {
	ctx := context.Background()
	src, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer src.Close()
	dst, err := store.OpenMem(store.DefaultConfig())
	require.NoError(t, err)
	defer dst.Close()
	// A genesis with storage and code, then blocks changing it.
	for _, u := range testChain(t) {
		require.NoError(t, src.Ingest(ctx, u))
	}
	head, err := src.Head()
	require.NoError(t, err)
	for n := uint64(0); n <= head.Number; n++ {
		u, err := src.UpdateAt(n)
		require.NoError(t, err)
		w, err := Encode(u)
		require.NoError(t, err)
		raw, err := proto.Marshal(w)
		require.NoError(t, err)
		var back pb.BlockUpdate
		require.NoError(t, proto.Unmarshal(raw, &back))
		got, err := Decode(&back)
		require.NoError(t, err)
		require.NoError(t, dst.Ingest(ctx, got), "block %d after the wire", n)
	}
	last, err := src.UpdateAt(head.Number)
	require.NoError(t, err)
	for name, breakIt := range map[string]func(w *pb.BlockUpdate){
		"short address hash": func(w *pb.BlockUpdate) { w.Accounts[0].AddrHash = w.Accounts[0].AddrHash[:31] },
		"long balance": func(w *pb.BlockUpdate) {
			w.Accounts[0].HasAccount, w.Accounts[0].Balance, w.Accounts[0].CodeHash = true, make([]byte, 33), make([]byte, 32)
		},
		"garbage header": func(w *pb.BlockUpdate) { w.Header = []byte{0xff, 0x01} },
	} {
		w, err := Encode(last)
		require.NoError(t, err)
		breakIt(w)
		_, err = Decode(w)
		require.Error(t, err, name)
	}
}
