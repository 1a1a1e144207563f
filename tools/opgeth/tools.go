//go:build tools

// Package opgethbuild pins the op-geth release Strata builds on, so that
// `make op-geth` builds its geth command as bin/op-geth from the same module
// version go.mod replaces go-ethereum with (a test keeps the two equal).
package opgethbuild

import _ "github.com/ethereum/go-ethereum/cmd/geth"
