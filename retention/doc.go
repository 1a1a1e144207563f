// Package retention keeps the history store within its tiers (DESIGN §4).
// It owns the tier policy and paces the work; the store only carries it
// out.
//
// Files, one concept each:
//   - retention.go: the operator's spans (durations) turned into blocks (a
//     history.Retention), and Run, which drives the store's migration (a
//     history.Migrator) in the background, in bounded steps with pauses
//     between them, so that moving blocks down the tiers never holds up
//     ingest;
//   - policy.go: Policy, the schedule (a history.TierPolicy): given where
//     the tiers stand, which checkpoint interval moves next, thinned from
//     the recent tier into the window or pruned below it, and which
//     accounts are pinned. It is the only copy of the schedule.
//
// It knows the store only through those history types: cmd/strata builds
// the store with Config.Policy set to NewPolicy of the same Retention, and
// hands Run the engine. (Its tests use history/store as their fixture and
// run the schedule end to end on it.)
//
// What the policy does not decide is which versions a task deletes: the
// store keeps that as its primitive, "delete the versions the interval
// [from, to] supersedes", because working it out needs the store's key
// layout and changeset encoding (which items are trie nodes, which belong
// to a pinned account, where a cursor stands in a changeset); the store's
// package doc says how.
//
// Invariants:
//   - Policy.Due is a pure function of the bounds: a thinning is the one
//     interval at the recent tier's edge once the recent tier would still
//     keep at least Recent blocks without it; a pruning is the next
//     interval below the window once thinning is done, up to the
//     checkpoint at or below recent-Window. Neither crosses the head or
//     the tier above.
//   - Run never holds ingest up: each step is bounded by the budget and the
//     slice, and the store ends a step early when a block starts ingesting.
package retention
