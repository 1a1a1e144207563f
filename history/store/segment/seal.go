package segment

import "fmt"

// The seal of a full file runs in the background, off the append path. The
// Append that starts the next file fsyncs the full one (unless a Sync
// covered its last block already), creates the next file, publishes the
// full one as Log.closing and hands it to a goroutine, which
//
//  1. builds the index (sorted keys, bloom filter) from the file's tables;
//  2. writes it to NNN.idx.tmp, fsyncs it, renames it to NNN.idx and fsyncs
//     the directory;
//  3. publishes the file as sealed (under Log.mu): it moves from closing to
//     the end of Log.sealed, and its in-memory keys are dropped.
//
// Until step 3 readers find the file as closing and use its in-memory
// keys, the ones it had as the open file: a read or a lookup gives the same
// answer before, during and after the seal. The closing file's tables do
// not change while it is being sealed (Append writes to the next file;
// TruncateAfter and PruneBefore wait for the seal before they touch it), so
// the sealer reads them without the lock.
//
// One seal at a time, in file order: an Append that fills the next file
// while a seal is still under way waits for it (with files of hundreds of
// blocks, a seal ends long before). TruncateAfter waits when it cuts into
// or below the closing file, PruneBefore when it would remove it, Close
// always.
//
// Durability: the closing file is whole on disk before the next file is
// created (a crash may keep a new file's directory entry yet lose another
// file's unsynced bytes, and a file that is not the last must be whole), so
// Sync, covering every appended block, need fsync only the open file. A
// crash anywhere in the seal reopens as before: a temporary index is
// removed, a missing one rebuilt from the .seg, and a next file that did
// not reach the disk leaves the closing file the last one, its index (if
// any) removed.
//
// A failure of the seal is latched as the log's fault ("seal NNN.seg:
// write NNN.idx at 0: ..."): later writes are refused with it, reads go
// on, and the file stays closing, served from memory, until Close.

// startSeal starts the background seal of c, just published as closing. The
// writer calls it, after waiting for the seal before (waitSeal).
func (l *Log) startSeal(c *activeFile) {
	done := make(chan struct{})
	l.sealDone = done
	go func() {
		finished := false
		defer func() {
			if !finished { // the goroutine was stopped (a test's FailNow)
				l.fault.latch(fmt.Errorf("seal %s: stopped", c.name))
			}
			close(done)
		}()
		if l.sealStart != nil {
			l.sealStart(c.first)
		}
		if err := l.seal(c); err != nil {
			l.fault.latch(fmt.Errorf("seal %s: %w", c.name, err))
		}
		finished = true
	}()
}

// waitSeal waits for the seal under way, if any, to end. After it, closing
// is nil, or the seal failed (and the fault is latched). The writer calls
// it.
func (l *Log) waitSeal() {
	if l.sealDone == nil {
		return
	}
	if l.sealWait != nil {
		l.sealWait()
	}
	<-l.sealDone
	l.sealDone = nil
}

// seal seals the closing file c (steps 1-3 above).
func (l *Log) seal(c *activeFile) error {
	data, sf := buildIndex(c.name, c.first, c.capacity, c.blocks, c.entries, c.end, l.opts.BloomBitsPerKey)
	idx, err := l.writeIndex(c.first, data)
	if err != nil {
		return err
	}
	sf.seg, sf.idx = c.seg, idx // c's reference on its .seg passes to sf
	l.mu.Lock()
	l.sealed = append(l.sealed, sf) // readers' slices end before the new element
	l.closing = nil
	l.mu.Unlock()
	return nil
}
