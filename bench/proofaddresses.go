package bench

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/strata-chain/strata/sequencer"
)

// ProofAddresses are the accounts a bench proves on a chain the sequencer
// configured by cfg makes: the contracts, up to 8 dev accounts, up to 64
// filler accounts spread over the initial state, and 4 absent accounts.
func ProofAddresses(cfg sequencer.Config) []common.Address {
	addrs := []common.Address{sequencer.MessagePasserAddress, sequencer.StorageContractAddress, sequencer.TokenAddress}
	addrs = append(addrs, sequencer.PoolAddresses...)
	for _, k := range sequencer.DevKeys(min(cfg.DevAccounts, 8)) {
		addrs = append(addrs, crypto.PubkeyToAddress(k.PublicKey))
	}
	for i := 0; i < min(cfg.Initial.Accounts, 64); i++ {
		addrs = append(addrs, sequencer.FillerAddress(i*max(1, cfg.Initial.Accounts/64)))
	}
	for i := 0; i < 4; i++ {
		addrs = append(addrs, common.BytesToAddress(crypto.Keccak256([]byte("absent"), []byte{byte(i)})))
	}
	return addrs
}
