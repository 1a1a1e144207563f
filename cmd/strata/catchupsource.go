package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-chain/strata/catchup"
	"github.com/strata-chain/strata/history"
	"github.com/strata-chain/strata/history/store"
	"github.com/strata-chain/strata/history/stream"
)

// catchupSource is where `strata catchup` reads blocks: another Strata's
// block stream or another Strata's datadir.
type catchupSource interface {
	catchup.Source
	Head(ctx context.Context) (*types.Header, error)
	Header(ctx context.Context, n uint64) (*types.Header, error)
	Genesis(ctx context.Context) (history.GenesisSource, func(), error)
	Close() error
}

// ensureGenesis loads the source's genesis state into an empty store and
// checks a non-empty store has the source's block 0.
func ensureGenesis(ctx context.Context, st *store.Store, src catchupSource, log *slog.Logger) error {
	h0, err := src.Header(ctx, 0)
	if err != nil {
		return fmt.Errorf("source block 0: %w", err)
	}
	if _, err := st.Head(); err == nil {
		ours, err := st.HeaderByNumber(0)
		if err != nil {
			return err
		}
		if ours.Hash() != h0.Hash() {
			return fmt.Errorf("the datadir's block 0 is %s, the source's is %s: not the same chain", ours.Hash(), h0.Hash())
		}
		return nil
	} else if !errors.Is(err, history.ErrEmpty) {
		return err
	}
	gs, release, err := src.Genesis(ctx)
	if err != nil {
		return fmt.Errorf("source genesis: %w", err)
	}
	defer release()
	hdr := types.CopyHeader(h0)
	hdr.Root = [32]byte{}
	start := time.Now()
	sealed, err := st.LoadGenesis(ctx, gs, hdr, nil)
	if err != nil {
		return fmt.Errorf("load genesis: %w", err)
	}
	if sealed.Hash() != h0.Hash() {
		return fmt.Errorf("the source's genesis state makes block 0 %s, its header says %s", sealed.Hash(), h0.Hash())
	}
	log.Info("Loaded the source's genesis", "hash", sealed.Hash(), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func openCatchupSource(src string) (catchupSource, error) {
	if addr, ok := strings.CutPrefix(src, "strata://"); ok {
		c, err := stream.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", src, err)
		}
		return streamSource{c}, nil
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--source %q: want strata://host:port or a Strata datadir", src)
	}
	s, err := store.Open(src, store.DefaultConfig(), nil)
	if err != nil {
		return nil, fmt.Errorf("open source datadir: %w", err)
	}
	return storeSource{s}, nil
}

// streamSource reads another Strata over gRPC.
type streamSource struct{ c *stream.Client }

func (s streamSource) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	return s.c.Range(ctx, from, to)
}
func (s streamSource) Head(ctx context.Context) (*types.Header, error) { return s.c.Head(ctx) }
func (s streamSource) Header(ctx context.Context, n uint64) (*types.Header, error) {
	return s.c.Header(ctx, n)
}
func (s streamSource) Genesis(ctx context.Context) (history.GenesisSource, func(), error) {
	g, err := s.c.Genesis(ctx)
	return g, func() {}, err
}
func (s streamSource) Close() error { return s.c.Close() }

// storeSource reads another Strata's datadir.
type storeSource struct{ s *store.Store }

func (s storeSource) Range(ctx context.Context, from, to uint64) (func() (*history.BlockUpdate, error), error) {
	n := from
	return func() (*history.BlockUpdate, error) {
		if n > to {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u, err := s.s.UpdateAt(n)
		n++
		return u, err
	}, nil
}
func (s storeSource) Head(context.Context) (*types.Header, error) {
	h, err := s.s.Head()
	if err != nil {
		return nil, err
	}
	return s.s.HeaderByNumber(h.Number)
}
func (s storeSource) Header(_ context.Context, n uint64) (*types.Header, error) {
	return s.s.HeaderByNumber(n)
}
func (s storeSource) Genesis(context.Context) (history.GenesisSource, func(), error) {
	g, err := s.s.GenesisState()
	if err != nil {
		return nil, nil, err
	}
	return g, func() { g.Close() }, nil
}
func (s storeSource) UpdateAt(n uint64) (*history.BlockUpdate, error) { return s.s.UpdateAt(n) }
func (s storeSource) Close() error                                    { return s.s.Close() }
