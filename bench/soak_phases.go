package bench

import "time"

// SoakPhase is one step of the soak: the victim alone (Clients 0) or a
// number of open-loop clients beside it.
type SoakPhase struct {
	Clients int           `json:"clients"`
	Start   time.Duration `json:"start_ns"`
	End     time.Duration `json:"end_ns"`
	// Offered is the clients' scheduled requests per second (clients × rate).
	Offered      float64 `json:"offered_per_second"`
	Load         Summary `json:"load"` // the clients' requests scheduled in the phase
	LoadErrors   int     `json:"load_errors"`
	Victim       Summary `json:"victim"`
	VictimErrors int     `json:"victim_errors"`
}

// SoakBucket is the latency of the requests scheduled in one bucket of
// time (10 s by default), for the proof-latency plot.
type SoakBucket struct {
	At     time.Duration `json:"at_ns"` // the bucket's start
	Load   Summary       `json:"load"`
	Victim Summary       `json:"victim"`
}

// soakPhases lays out the window: the victim alone, then one equal part of
// duration per client count.
func soakPhases(alone, duration time.Duration, clients []int, rate float64) []SoakPhase {
	var out []SoakPhase
	at := time.Duration(0)
	if alone > 0 {
		out = append(out, SoakPhase{Clients: 0, Start: 0, End: alone})
		at = alone
	}
	part := duration / time.Duration(len(clients))
	for _, n := range clients {
		out = append(out, SoakPhase{Clients: n, Start: at, End: at + part, Offered: float64(n) * rate})
		at += part
	}
	return out
}

// phaseAt is the index of the phase holding at (the last one past the end).
func phaseAt(phases []SoakPhase, at time.Duration) int {
	for i, ph := range phases {
		if at < ph.End {
			return i
		}
	}
	return len(phases) - 1
}

// summarizePhases fills each phase's latency figures from the requests
// scheduled inside it; the few scheduled after the last phase's end, while
// the clients were being stopped, count in the last phase.
func summarizePhases(phases []SoakPhase, reqs []soakRequest) {
	for i := range phases {
		ph := &phases[i]
		var load, victim []time.Duration
		for _, r := range reqs {
			if phaseAt(phases, r.At) != i {
				continue
			}
			switch {
			case r.Client == victimClient && r.Err:
				ph.VictimErrors++
			case r.Client == victimClient:
				victim = append(victim, r.Latency)
			case r.Err:
				ph.LoadErrors++
			default:
				load = append(load, r.Latency)
			}
		}
		ph.Load, ph.Victim = Summarize(load), Summarize(victim)
	}
}

// bucketize summarizes the answered requests per bucket of width every
// over [0, end).
func bucketize(reqs []soakRequest, every, end time.Duration) []SoakBucket {
	if every <= 0 || end <= 0 {
		return nil
	}
	n := int((end + every - 1) / every)
	load := make([][]time.Duration, n)
	victim := make([][]time.Duration, n)
	for _, r := range reqs {
		i := int(r.At / every)
		if r.Err || r.At < 0 || i >= n {
			continue
		}
		if r.Client == victimClient {
			victim[i] = append(victim[i], r.Latency)
		} else {
			load[i] = append(load[i], r.Latency)
		}
	}
	out := make([]SoakBucket, n)
	for i := range out {
		out[i] = SoakBucket{At: time.Duration(i) * every, Load: Summarize(load[i]), Victim: Summarize(victim[i])}
	}
	return out
}
