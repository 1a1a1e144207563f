// Command strata runs the Strata historical proof server: a built-in 200 ms
// sequencer or a follower feeding a Pebble history store, and the JSON-RPC
// API that serves proofs from it.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}
