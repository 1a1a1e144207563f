package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// soakWindow is the measured window of a soak: its phases, the prover of
// the clients and the victim, and the samples taken.
type soakWindow struct {
	phases  []SoakPhase
	t0      time.Time
	head    atomic.Uint64 // the follower's head, the newest block proofs ask for
	prover  *soakProver
	loadErr chan error // a client's failure, which ends the window
	mu      sync.Mutex
	samples []SoakSample
	// aborted says why the window ended early, if it did.
	aborted string
}

// measure runs the window: the sampler and the victim throughout, the
// phases' clients one phase after another, until the last phase's end or
// until ctx ends, a node exits or a client fails. It sets the report's
// Window and returns once every client has finished.
func (r *soakRun) measure(ctx context.Context) *soakWindow {
	cfg := &r.cfg
	w := &soakWindow{phases: soakPhases(cfg.VictimAlone, cfg.Duration, cfg.Clients, cfg.Rate), loadErr: make(chan error, 64)}
	r.log.Info("Soak: measuring", "window", w.phases[len(w.phases)-1].End, "phases", len(w.phases),
		"setup", r.rep.Setup.Round(time.Second), "ready", r.rep.ReadyAtStart)
	w.t0 = time.Now()
	if st, err := r.folS.status(ctx); err == nil {
		w.head.Store(st.Head)
	}
	w.prover = newSoakProver(fmt.Sprintf("http://127.0.0.1:%d", r.ports.folHTTP), cfg.Addresses, cfg.Slots, w.head.Load, cfg.RequestTimeout, w.t0)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg, clients sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.sampleLoop(runCtx, w) }()
	if cfg.VictimRate > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); r.victim(runCtx, w) }()
	}
	w.aborted = r.runPhases(ctx, runCtx, w, &clients)
	r.rep.Window = time.Since(w.t0)
	stopRun()
	clients.Wait()
	wg.Wait()
	return w
}

// sampleLoop samples both nodes every SampleEvery until ctx ends, and
// keeps the follower's head for the prover.
func (r *soakRun) sampleLoop(ctx context.Context, w *soakWindow) {
	tk := time.NewTicker(r.cfg.SampleEvery)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		s, ok := r.sampleNodes(ctx, time.Since(w.t0))
		if !ok {
			return
		}
		s.Phase = phaseAt(w.phases, s.At)
		if s.Follower.StatusOK {
			w.head.Store(max(w.head.Load(), s.Follower.Head))
		}
		w.mu.Lock()
		w.samples = append(w.samples, s)
		w.mu.Unlock()
	}
}

// sampleNodes samples the follower and the source together, at at into
// the window; false when ctx ended meanwhile.
func (r *soakRun) sampleNodes(ctx context.Context, at time.Duration) (SoakSample, bool) {
	s := SoakSample{At: at}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Follower = r.folS.sample(ctx) }()
	go func() { defer wg.Done(); s.Source = r.srcS.sample(ctx) }()
	wg.Wait()
	return s, ctx.Err() == nil
}

// victim asks proofs at VictimRate until ctx ends.
func (r *soakRun) victim(ctx context.Context, w *soakWindow) {
	if err := w.prover.openLoop(ctx, victimClient, r.cfg.VictimRate, r.cfg.InFlight, r.cfg.Seed); err != nil {
		w.loadErr <- fmt.Errorf("victim: %w", err)
	}
}

// runPhases runs the phases one after another, their clients under
// runCtx, and returns why the window ended early, or "". A phase's clients
// stop scheduling at its end; their outstanding requests finish while the
// next phase runs (clients counts them, waited for by the caller).
func (r *soakRun) runPhases(ctx, runCtx context.Context, w *soakWindow, clients *sync.WaitGroup) string {
	for i, ph := range w.phases {
		phCtx, endPhase := context.WithCancel(runCtx)
		r.startClients(phCtx, w, i, clients)
		r.log.Info("Soak: phase", "phase", i, "clients", ph.Clients, "from", ph.Start, "to", ph.End)
		aborted := r.waitPhaseEnd(ctx, w, w.t0.Add(ph.End))
		endPhase()
		if aborted != "" {
			r.log.Warn("Soak: ended early", "why", aborted)
			return aborted
		}
	}
	return ""
}

// startClients starts phase i's open-loop clients, scheduling until ctx
// ends.
func (r *soakRun) startClients(ctx context.Context, w *soakWindow, i int, clients *sync.WaitGroup) {
	for c := range w.phases[i].Clients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			if err := w.prover.openLoop(ctx, c, r.cfg.Rate, r.cfg.InFlight, r.cfg.Seed+uint64(i+1)<<32); err != nil {
				w.loadErr <- fmt.Errorf("client %d of phase %d: %w", c, i, err)
			}
		}()
	}
}

// waitPhaseEnd waits until end and returns "", or returns why the window
// ends early: ctx ended, a node exited or a client failed.
func (r *soakRun) waitPhaseEnd(ctx context.Context, w *soakWindow, end time.Time) string {
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	select {
	case <-timer.C:
		return ""
	case <-ctx.Done():
		return "interrupted: " + ctx.Err().Error()
	case <-r.src.exited:
		return r.src.exitErr().Error()
	case <-r.fol.exited:
		return r.fol.exitErr().Error()
	case err := <-w.loadErr:
		return err.Error()
	}
}
