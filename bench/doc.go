// Package bench measures Strata the way its users see it: a proof load of
// concurrent JSON-RPC clients asking eth_getProof at random historical
// blocks, every answer verified against the block's state root, with latency
// percentiles and a report. Whole-system runs are driven by `strata bench`.
package bench
