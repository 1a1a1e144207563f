package history

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

func TestClassOf(t *testing.T) {
	mismatch := &RootMismatchError{Number: 7}
	notNext := &NotNextError{Number: 9}
	disk := fmt.Errorf("commit: %w", syscall.ENOSPC)
	for _, tc := range []struct {
		name string
		err  error
		want Class
	}{
		{"unmarked", errors.New("connection refused"), ClassTemporary},
		{"root mismatch", mismatch, ClassCritical},
		{"wrapped root mismatch", fmt.Errorf("follower halted: %w", mismatch), ClassCritical},
		{"not next", notNext, ClassReorg},
		{"wrapped not next", fmt.Errorf("ingest: %w", notNext), ClassReorg},
		{"marked critical", Critical(disk), ClassCritical},
		{"marked critical, wrapped", fmt.Errorf("ingest block 3: %w", Critical(disk)), ClassCritical},
		{"temporary overrides a deeper class", Temporary(fmt.Errorf("resubscribe: %w", notNext)), ClassTemporary},
		{"critical overrides a deeper reorg", Critical(notNext), ClassCritical},
		{"marked reorg", fmt.Errorf("catch-up: %w", Reorg(errors.New("diverged"))), ClassReorg},
		{"joined, first mark wins", errors.Join(errors.New("a"), Critical(disk)), ClassCritical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassOf(tc.err); got != tc.want {
				t.Fatalf("ClassOf(%v) = %s, want %s", tc.err, got, tc.want)
			}
			if IsCritical(tc.err) != (tc.want == ClassCritical) {
				t.Fatalf("IsCritical(%v) = %v", tc.err, IsCritical(tc.err))
			}
		})
	}
	if Critical(nil) != nil || Temporary(nil) != nil || Reorg(nil) != nil {
		t.Fatal("marking nil must stay nil")
	}
	marked := Critical(disk)
	if marked.Error() != disk.Error() || !errors.Is(marked, syscall.ENOSPC) {
		t.Fatalf("a mark keeps the message and the chain: %q", marked)
	}
	if IsCritical(nil) {
		t.Fatal("nil is not critical")
	}
}
