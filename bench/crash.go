package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/strata-chain/strata/history"
)

// CrashStore is a store the crash checks reopen after a kill or a power
// cut: the history contract plus the two things a replica comparison needs,
// a block's update read back and the whole-store digest. bench never opens
// a store itself; cmd/strata wires history/store behind it.
type CrashStore interface {
	history.Reader
	history.Ingester
	history.Migrator
	// UpdateAt rebuilds block n's update from what the store holds.
	UpdateAt(n uint64) (*history.BlockUpdate, error)
	// Digest hashes the history the store holds (not its bookkeeping):
	// two stores holding the same history have the same digest.
	Digest() (common.Hash, error)
	Close() error
}

// CrashReport is what a crash run found. A run passes when every count
// but Kills and the phases is zero.
type CrashReport struct {
	Mode     string         // sigkill or powercut
	Scenario string         // ingest, catchup or all (sigkill); ingest (powercut)
	Kills    int            // kills (or power cuts) done
	ByPhase  map[string]int // kills by what the child was doing, where known
	// ReopenFailures counts stores that did not open after a kill.
	ReopenFailures int
	// LostBlocks sums, over the kills, the reported blocks the reopened
	// store no longer held (reported: the child said it committed them).
	LostBlocks uint64
	// LossKills counts the kills that lost at least one reported block.
	LossKills int
	// Inconsistencies counts broken invariants: a block above the head, a
	// header off the chain, a state whose root is not its header's.
	Inconsistencies int
	// ProofFailures counts account or slot proofs that did not verify
	// against the header's root, or disagreed with the stored value.
	ProofFailures int
	// DigestMismatches counts kills after which the store's digest differed
	// from the reference's at the same head.
	DigestMismatches int
	// ReferenceResets counts the times the ingest replica fell behind the
	// crashed store's oldest block (the child pruned blocks the replica had
	// not read yet: a long time down makes the sequencer catch up with the
	// clock in a burst) and was started again as a copy of the checked
	// store; digests are compared from there on.
	ReferenceResets int
	// BlocksChecked, ProofsChecked and DigestsCompared count the checks
	// that ran.
	BlocksChecked, ProofsChecked, DigestsCompared int
	// Head is the last head seen.
	Head        uint64
	ReopenTimes []time.Duration
	// Problems holds the first few failures, described.
	Problems []string
	Took     time.Duration
}

// maxProblems is how many failures a report keeps described.
const maxProblems = 20

func newCrashReport(mode, scenario string) *CrashReport {
	return &CrashReport{Mode: mode, Scenario: scenario, ByPhase: map[string]int{}}
}

// problem records one failure's description.
func (r *CrashReport) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Failed reports whether any check failed.
func (r *CrashReport) Failed() bool {
	return r.ReopenFailures > 0 || r.LostBlocks > 0 || r.Inconsistencies > 0 || r.ProofFailures > 0 || r.DigestMismatches > 0
}

// Err is nil when the run passed, else an error summing up what failed.
func (r *CrashReport) Err() error {
	if !r.Failed() {
		return nil
	}
	return fmt.Errorf("crash %s: %d reopen failures, %d lost reported blocks (%d kills), %d inconsistencies, %d proof failures, %d digest mismatches; first: %s",
		r.Mode, r.ReopenFailures, r.LostBlocks, r.LossKills, r.Inconsistencies, r.ProofFailures, r.DigestMismatches, strings.Join(r.Problems[:min(3, len(r.Problems))], "; "))
}

// MedianReopen is the median time a reopen took (zero before any).
func (r *CrashReport) MedianReopen() time.Duration {
	if len(r.ReopenTimes) == 0 {
		return 0
	}
	s := slices.Clone(r.ReopenTimes)
	slices.Sort(s)
	return s[len(s)/2]
}

// Table is the summary: one row a count, then the first problems.
func (r *CrashReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| crash %s (%s) | |\n|---|---:|\n", r.Mode, r.Scenario)
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	row("kills", r.Kills)
	phases := make([]string, 0, len(r.ByPhase))
	for p := range r.ByPhase {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	for _, p := range phases {
		row("  during "+p, r.ByPhase[p])
	}
	row("reopen failures", r.ReopenFailures)
	row("lost reported blocks", fmt.Sprintf("%d (in %d kills)", r.LostBlocks, r.LossKills))
	row("inconsistencies", r.Inconsistencies)
	row("proof failures", fmt.Sprintf("%d of %d", r.ProofFailures, r.ProofsChecked))
	row("digest mismatches", fmt.Sprintf("%d of %d", r.DigestMismatches, r.DigestsCompared))
	row("replica resets (not failures)", r.ReferenceResets)
	row("blocks checked", r.BlocksChecked)
	row("last head", r.Head)
	row("median reopen", r.MedianReopen().Round(time.Microsecond))
	row("took", r.Took.Round(time.Second))
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	row("verdict", verdict)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\n- %s", p)
	}
	if len(r.Problems) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// crashChecker checks a store reopened after a kill against what the
// killed process reported, and carries from one kill to the next the
// blocks already checked.
type crashChecker struct {
	rep      *CrashReport
	rng      *rand.Rand
	checked  uint64 // blocks below it were checked after an earlier kill
	accounts int    // touched accounts proved per checked block at most
	random   int    // older held blocks checked again per kill
}

// check runs the reopen checks on s: the head is at or above reported,
// nothing is above the head, every block not yet checked (and a few older
// ones again) links to its parent, has its header's state root and proves
// a sample of the accounts and slots it touched. It returns the number of
// blocks the store holds (the head + 1; 0 for an empty store).
func (c *crashChecker) check(s CrashStore, reported uint64, anyReported bool) (uint64, error) {
	head, err := s.Head()
	if errors.Is(err, history.ErrEmpty) {
		if anyReported {
			c.rep.LostBlocks += reported + 1
			c.rep.LossKills++
			c.rep.problem("kill %d: the store is empty; block %d was reported", c.rep.Kills, reported)
		}
		if _, err := s.HeaderByNumber(0); err == nil {
			c.rep.Inconsistencies++
			c.rep.problem("kill %d: an empty store reads block 0", c.rep.Kills)
		}
		c.checked = 0
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("head: %w", err)
	}
	c.rep.Head = head.Number
	if anyReported && head.Number < reported {
		c.rep.LostBlocks += reported - head.Number
		c.rep.LossKills++
		c.rep.problem("kill %d: head %d is below the last reported block %d", c.rep.Kills, head.Number, reported)
	}
	if h, err := s.HeaderByNumber(head.Number); err != nil || h.Hash() != head.Hash {
		c.rep.Inconsistencies++
		c.rep.problem("kill %d: the head's header %d does not match the head marker (%v)", c.rep.Kills, head.Number, err)
	}
	if _, err := s.HeaderByNumber(head.Number + 1); !errors.Is(err, history.ErrNotFound) {
		c.rep.Inconsistencies++
		c.rep.problem("kill %d: block %d above the head %d reads as %v", c.rep.Kills, head.Number+1, head.Number, err)
	}
	oldest, err := s.Oldest()
	if err != nil {
		return 0, fmt.Errorf("oldest: %w", err)
	}
	from := max(oldest, min(c.checked, head.Number+1))
	blocks := make([]uint64, 0, head.Number+1-from+uint64(c.random))
	for n := from; n <= head.Number; n++ {
		blocks = append(blocks, n)
	}
	for range c.random {
		if from > oldest {
			blocks = append(blocks, oldest+c.rng.Uint64N(from-oldest))
		}
	}
	for _, n := range blocks {
		c.checkBlock(s, n)
	}
	c.checked = head.Number + 1
	return head.Number + 1, nil
}

// checkBlock checks one held block: its parent link, its state root and
// proofs of some of the accounts (and their slots) its update touched.
func (c *crashChecker) checkBlock(s CrashStore, n uint64) {
	c.rep.BlocksChecked++
	bad := func(format string, args ...any) {
		c.rep.Inconsistencies++
		c.rep.problem("kill %d: block %d: %s", c.rep.Kills, n, fmt.Sprintf(format, args...))
	}
	hdr, err := s.HeaderByNumber(n)
	if err != nil {
		bad("header: %v", err)
		return
	}
	if n > 0 {
		if parent, err := s.HeaderByNumber(n - 1); err != nil || parent.Hash() != hdr.ParentHash {
			bad("not linked to its parent (%v)", err)
		}
	}
	st, err := s.StateAt(n)
	if err != nil {
		bad("state: %v", err)
		return
	}
	defer st.Close()
	if st.Root() != hdr.Root {
		bad("state root %s, header root %s", st.Root(), hdr.Root)
		return
	}
	u, err := s.UpdateAt(n)
	if err != nil {
		bad("update: %v", err)
		return
	}
	keys := make([]common.Hash, 0, len(u.Accounts))
	for k := range u.Accounts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, common.Hash.Cmp)
	c.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys[:min(len(keys), c.accounts)] {
		var slots []common.Hash
		for slot := range u.Accounts[k].Storage {
			slots = append(slots, slot)
		}
		slices.SortFunc(slots, common.Hash.Cmp)
		c.rep.ProofsChecked++
		if err := proveAccountHash(st, hdr.Root, k, slots[:min(len(slots), 2)]); err != nil {
			c.rep.ProofFailures++
			c.rep.problem("kill %d: block %d: %v", c.rep.Kills, n, err)
		}
	}
}

// proveAccountHash proves the account addrHash and its slots (hashed keys)
// in st and verifies each proof with trie.VerifyProof against root, and
// against the value the state reads.
func proveAccountHash(st history.State, root, addrHash common.Hash, slots []common.Hash) error {
	tr, err := trie.New(trie.StateTrieID(root), st.Nodes())
	if err != nil {
		return fmt.Errorf("open state trie %s: %w", root, err)
	}
	db := memorydb.New()
	if err := tr.Prove(addrHash[:], db); err != nil {
		return fmt.Errorf("prove account %s: %w", addrHash, err)
	}
	val, err := trie.VerifyProof(root, addrHash[:], db)
	if err != nil {
		return fmt.Errorf("account %s: proof does not verify: %w", addrHash, err)
	}
	acc, err := st.Account(addrHash)
	if err != nil {
		return fmt.Errorf("read account %s: %w", addrHash, err)
	}
	var want []byte
	if acc != nil {
		if want, err = rlp.EncodeToBytes(acc); err != nil {
			return err
		}
	}
	if !bytes.Equal(val, want) {
		return fmt.Errorf("account %s: the proof holds %x, the state %x", addrHash, val, want)
	}
	if acc == nil || acc.Root == types.EmptyRootHash {
		return nil
	}
	str, err := trie.New(trie.StorageTrieID(root, addrHash, acc.Root), st.Nodes())
	if err != nil {
		return fmt.Errorf("open storage trie of %s: %w", addrHash, err)
	}
	for _, slot := range slots {
		db := memorydb.New()
		if err := str.Prove(slot[:], db); err != nil {
			return fmt.Errorf("prove slot %s of %s: %w", slot, addrHash, err)
		}
		val, err := trie.VerifyProof(acc.Root, slot[:], db)
		if err != nil {
			return fmt.Errorf("slot %s of %s: proof does not verify: %w", slot, addrHash, err)
		}
		v, err := st.Storage(addrHash, slot)
		if err != nil {
			return fmt.Errorf("read slot %s of %s: %w", slot, addrHash, err)
		}
		var got common.Hash
		if val != nil {
			var content []byte
			if err := rlp.DecodeBytes(val, &content); err != nil {
				return fmt.Errorf("slot %s of %s: leaf: %w", slot, addrHash, err)
			}
			got = common.BytesToHash(content)
		}
		if got != v {
			return fmt.Errorf("slot %s of %s: the proof holds %s, the state %s", slot, addrHash, got, v)
		}
	}
	return nil
}

// migrateAll finishes every migration task due at s's head, so two stores
// with the same blocks and retention hold the same tiers.
func migrateAll(ctx context.Context, s history.Migrator) error {
	for {
		res, err := s.Migrate(ctx, 1<<20)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if !res.More {
			return nil
		}
	}
}

// errReferenceGap means the replica cannot be fed: the blocks it needs next
// are gone from the crashed store (pruned).
var errReferenceGap = errors.New("the replica fell behind the crashed store's oldest block")

// crashReference is a fresh store with the same retention fed, block by
// block through Ingest, the blocks a crashed store holds (from source: the
// generator that made them, or the crashed store itself through UpdateAt):
// the replica whose digest the crashed store's must equal at the same head.
type crashReference struct {
	s      CrashStore
	source func(n uint64) (*history.BlockUpdate, error)
	// genesis, when set, gives the empty reference block 0 (a genesis
	// loaded in bulk has no changeset to read back); nil ingests
	// source(0).
	genesis func(ctx context.Context, dst CrashStore) error
	next    uint64 // the next block to ingest
}

// compare feeds the reference up to s's head, finishes both stores'
// migrations and compares their digests. A mismatch is counted in rep;
// an error means the comparison could not be made.
func (ref *crashReference) compare(ctx context.Context, s CrashStore, rep *CrashReport) error {
	held := uint64(0) // blocks s holds
	if head, err := s.Head(); err == nil {
		held = head.Number + 1
	} else if !errors.Is(err, history.ErrEmpty) {
		return err
	}
	if ref.next == 0 && held > 0 && ref.genesis != nil {
		if err := ref.genesis(ctx, ref.s); err != nil {
			return fmt.Errorf("reference: genesis: %w", err)
		}
		ref.next = 1
	}
	if ref.next < held {
		if oldest, err := s.Oldest(); err == nil && ref.next < oldest {
			return fmt.Errorf("%w: the replica needs block %d, the oldest held is %d", errReferenceGap, ref.next, oldest)
		}
	}
	for ; ref.next < held; ref.next++ {
		u, err := ref.source(ref.next)
		if err != nil {
			return fmt.Errorf("reference: read block %d: %w", ref.next, err)
		}
		if err := ref.s.Ingest(ctx, u); err != nil {
			return fmt.Errorf("reference: ingest block %d: %w", ref.next, err)
		}
	}
	if ref.next != held {
		return fmt.Errorf("the reference holds %d blocks, more than the crashed store's %d", ref.next, held)
	}
	if err := migrateAll(ctx, s); err != nil {
		return fmt.Errorf("crashed store: %w", err)
	}
	if err := migrateAll(ctx, ref.s); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	got, err := s.Digest()
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	want, err := ref.s.Digest()
	if err != nil {
		return fmt.Errorf("reference digest: %w", err)
	}
	rep.DigestsCompared++
	if got != want {
		rep.DigestMismatches++
		rep.problem("kill %d: digest %s with %d blocks, the reference's %s", rep.Kills, got, held, want)
	}
	return nil
}
