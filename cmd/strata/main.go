// Command strata runs the Strata historical proof server: a built-in 200 ms
// sequencer or a follower feeding a Pebble history store, and the JSON-RPC
// API that serves proofs from it.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", oneLine(err))
		os.Exit(1)
	}
}

// oneLine is err's text on one line: the causes errors.Join puts on lines
// of their own are separated by "; ", so that the failure is the one last
// line of the output, whatever the log format around it.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
