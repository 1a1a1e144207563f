//go:build tools

// Package gethbuild pins the geth binary that integration tests run: `make geth`
// builds cmd/geth at the go-ethereum version of the main go.mod.
package gethbuild

import _ "github.com/ethereum/go-ethereum/cmd/geth"
