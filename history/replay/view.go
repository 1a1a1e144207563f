package replay

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/triedb/database"

	"github.com/strata-chain/strata/history"
)

// Rebuild replays us (consecutive, the first on top of base) in memory and
// returns the state after the last of them: base's values overlaid with
// every node, account and slot the run wrote. Every block's root is checked
// against its header on the way, so the view is verified against the chain.
// The view owns base and closes it.
func Rebuild(ctx context.Context, base history.State, us []*history.BlockUpdate, workers int) (history.State, error) {
	if len(us) == 0 {
		return base, nil
	}
	if err := Prepare(ctx, base, us, workers); err != nil {
		return nil, err
	}
	return View(base, us), nil
}

// View returns the state after us over base, for updates that Prepare has
// already replayed and checked (their Nodes and StorageRoots set): base's
// values overlaid with every node, account and slot they wrote. Catch-up
// uses it to replay the next batch on top of one still being written. The
// view owns base and closes it.
func View(base history.State, us []*history.BlockUpdate) history.State {
	if len(us) == 0 {
		return base
	}
	v := &view{base: base, root: us[len(us)-1].Header.Root, nodes: newOverlay(base),
		accounts: make(map[common.Hash]*types.StateAccount), slots: make(map[common.Hash]map[common.Hash]common.Hash),
		codes: make(map[common.Hash][]byte)}
	for _, u := range us {
		for owner, set := range u.Nodes.Sets {
			v.nodes.apply(owner, set)
		}
		for a, ch := range u.Accounts {
			if ch.Deleted {
				v.accounts[a] = nil
				v.slots[a] = nil // nothing below survives
				continue
			}
			acc := &types.StateAccount{Nonce: ch.Account.Nonce, Balance: ch.Account.Balance.Clone(), Root: *ch.StorageRoot, CodeHash: ch.Account.CodeHash.Bytes()}
			v.accounts[a] = acc
			if ch.Wiped {
				v.slots[a] = nil
			}
			for k, val := range ch.Storage {
				m, ok := v.slots[a]
				if !ok || m == nil {
					m = make(map[common.Hash]common.Hash)
					if ok { // wiped: a fresh map that hides the base
						v.wiped = append(v.wiped, a)
					}
					v.slots[a] = m
				}
				m[k] = val
			}
		}
		for h, c := range u.Codes {
			v.codes[h] = c
		}
	}
	for _, a := range v.wiped {
		v.wipedSet(a)
	}
	return v
}

// view is a rebuilt state: a run's writes over a base state.
type view struct {
	base     history.State
	root     common.Hash
	nodes    *overlay
	accounts map[common.Hash]*types.StateAccount         // nil value: deleted
	slots    map[common.Hash]map[common.Hash]common.Hash // nil map with the key present: storage dropped
	codes    map[common.Hash][]byte
	wiped    []common.Hash
	dropped  map[common.Hash]bool // storage dropped in the run: base slots are gone
}

func (v *view) wipedSet(a common.Hash) {
	if v.dropped == nil {
		v.dropped = make(map[common.Hash]bool)
	}
	v.dropped[a] = true
}

func (v *view) Root() common.Hash { return v.root }

func (v *view) Account(a common.Hash) (*types.StateAccount, error) {
	if acc, ok := v.accounts[a]; ok {
		if acc == nil {
			return nil, nil
		}
		cp := *acc
		cp.Balance = acc.Balance.Clone()
		return &cp, nil
	}
	return v.base.Account(a)
}

func (v *view) Storage(a, slot common.Hash) (common.Hash, error) {
	m, ok := v.slots[a]
	if ok && m != nil {
		if val, ok := m[slot]; ok {
			return val, nil
		}
	}
	if ok && (m == nil || v.dropped[a]) {
		return common.Hash{}, nil // the run dropped the account's older storage
	}
	return v.base.Storage(a, slot)
}

func (v *view) Code(h common.Hash) ([]byte, error) {
	if c, ok := v.codes[h]; ok {
		return c, nil
	}
	return v.base.Code(h)
}

func (v *view) Nodes() database.NodeDatabase { return v.nodes }

func (v *view) Close() error { return v.base.Close() }

var _ history.State = (*view)(nil)

// String names the view for errors.
func (v *view) String() string { return fmt.Sprintf("rebuilt state %s", v.root) }
