package history

import (
	"errors"
	"fmt"
)

// Class is what a producer (the follower, catch-up, the sequencer) does
// about an error from an upstream or the store. Every error has exactly one
// class; ClassOf decides it.
type Class int

const (
	// ClassTemporary errors are retried with backoff: a connection refused or
	// dropped, a timeout, an upstream answer that is not there yet, a head
	// that moved under an ingest. Unmarked errors are temporary.
	ClassTemporary Class = iota
	// ClassReorg errors mean a block does not extend the stored head
	// (NotNextError): the producer walks back to a common ancestor and
	// unwinds, within its allowed depth.
	ClassReorg
	// ClassCritical errors halt the producer with the store at its last good
	// block: a state root that is not the header's (RootMismatchError), a
	// write the disk refused, a reorg deeper than allowed, an upstream that
	// keeps contradicting itself. Retrying would repeat them.
	ClassCritical
)

func (c Class) String() string {
	switch c {
	case ClassTemporary:
		return "temporary"
	case ClassReorg:
		return "reorg"
	case ClassCritical:
		return "critical"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// classed marks an error with a class; it wraps the error unchanged.
type classed struct {
	err   error
	class Class
}

func (c *classed) Error() string { return c.err.Error() }
func (c *classed) Unwrap() error { return c.err }

// Critical marks err as ClassCritical (nil stays nil). The message is err's.
func Critical(err error) error { return mark(err, ClassCritical) }

// Temporary marks err as ClassTemporary (nil stays nil), overriding a class
// found deeper in its chain.
func Temporary(err error) error { return mark(err, ClassTemporary) }

// Reorg marks err as ClassReorg (nil stays nil): the producer's next block
// does not build on the store's head, as catch-up's divergence.
func Reorg(err error) error { return mark(err, ClassReorg) }

func mark(err error, c Class) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: c}
}

// ClassOf returns the class of err: the outermost mark in its chain
// (Critical, Reorg, Temporary); otherwise ClassCritical for a *RootMismatchError,
// ClassReorg for a *NotNextError, and ClassTemporary for anything else.
// ClassOf(nil) is ClassTemporary, but nil is no error to act on.
func ClassOf(err error) Class {
	var c *classed
	if errors.As(err, &c) {
		return c.class
	}
	var mismatch *RootMismatchError
	if errors.As(err, &mismatch) {
		return ClassCritical
	}
	var notNext *NotNextError
	if errors.As(err, &notNext) {
		return ClassReorg
	}
	return ClassTemporary
}

// IsCritical reports whether err is classed ClassCritical.
func IsCritical(err error) bool { return err != nil && ClassOf(err) == ClassCritical }
