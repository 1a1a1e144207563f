// Package bench measures Strata the way its users see it: a proof load of
// concurrent JSON-RPC clients asking eth_getProof at random historical
// blocks, every answer verified against the block's state root, with latency
// percentiles and a report.
//
// It also holds the orchestration of every `strata bench` command and of
// `strata catchup`'s measurements: running a profile at each block time
// (RunProfile), an outage and a follower's recovery (MeasureRecovery),
// re-ingesting a recorded chain under retention (MeasureTiers), the proof
// load against any node (RunProofs), and catch-up replay measured whole or
// stage by stage (MeasureReplay, MeasurePhases), a soak that follows
// and serves under open-loop proof load (Soak), and the kill loop of SIGKILLs
// and in-process power cuts with every reopened store checked (Crash,
// PowerCut). cmd/strata only parses
// flags into these functions' configs and wires in what bench may not
// import (DESIGN.md §3): a node and stores, through the Node, Store,
// TierStore and RecordedChain interfaces declared here and passed in a
// Wiring or a config.
package bench
