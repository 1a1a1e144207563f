package api

import "github.com/ethereum/go-ethereum/common"

func commonHash(s string) common.Hash { return common.HexToHash(s) }
