package sequencer

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/core/vm/program"
	"github.com/ethereum/go-ethereum/crypto"
)

// The contracts of the devnet are written directly in bytecode with
// go-ethereum's program builder: no compiler is needed to build Strata.

// initiateWithdrawalSelector is the first four bytes of
// keccak256("initiateWithdrawal(address,uint256,bytes)").
var initiateWithdrawalSelector = []byte{0xc2, 0xb3, 0xe5, 0xac}

// messagePassedTopic is the topic of the log the message passer emits per
// withdrawal; the log's data is the withdrawal hash.
var messagePassedTopic = crypto.Keccak256Hash([]byte("WithdrawalRecorded(bytes32)"))

// push2 appends a PUSH2 of v, so that jump targets have a fixed width.
func push2(p *program.Program, v uint64) *program.Program {
	return p.Op(vm.PUSH2).Append([]byte{byte(v >> 8), byte(v)})
}

// onlySelector opens a contract with a single entry point: calldata whose
// selector is not sel reverts; otherwise execution goes on at ok, the
// JUMPDEST it ends with.
func onlySelector(p *program.Program, sel []byte, ok uint64) {
	p.Push(0).Op(vm.CALLDATALOAD).Push(0xe0).Op(vm.SHR)
	p.Push(sel).Op(vm.EQ)
	push2(p, ok).Op(vm.JUMPI)
	p.Push(0).Push(0).Op(vm.REVERT)
	p.Jumpdest()
}

// MessagePasserCode is the runtime code of the devnet's withdrawal recorder at
// MessagePasserAddress. It keeps the storage layout of the OP Stack's
// L2ToL1MessagePasser: `mapping(bytes32 => bool) sentMessages` at slot 0 and
// the message nonce at slot 1. Its one entry point,
// initiateWithdrawal(address target, uint256 gasLimit, bytes data) payable,
// computes
//
//	withdrawalHash = keccak256(abi.encode(nonce, msg.sender, target, msg.value, gasLimit, data))
//
// as Hashing.hashWithdrawal does, sets sentMessages[withdrawalHash] = true,
// increments the nonce and logs the hash. Any other calldata reverts.
// Unlike the OP contract the nonce carries no version in its top bytes and
// the value is not burnt (it stays in the contract).
func MessagePasserCode() []byte {
	build := func(ok uint64) *program.Program {
		p := program.New()
		onlySelector(p, initiateWithdrawalSelector, ok)
		// abi.encode(nonce, sender, target, value, gasLimit, data) at memory 0.
		p.Push(1).Op(vm.SLOAD).Push(0x00).Op(vm.MSTORE)
		p.Op(vm.CALLER).Push(0x20).Op(vm.MSTORE)
		p.Push(4).Op(vm.CALLDATALOAD).Push(common.MaxAddress.Bytes()).Op(vm.AND).Push(0x40).Op(vm.MSTORE)
		p.Op(vm.CALLVALUE).Push(0x60).Op(vm.MSTORE)
		p.Push(36).Op(vm.CALLDATALOAD).Push(0x80).Op(vm.MSTORE)
		p.Push(0xc0).Push(0xa0).Op(vm.MSTORE) // offset of data
		// off = 4 + calldataload(68) points at data's length word.
		p.Push(68).Op(vm.CALLDATALOAD).Push(4).Op(vm.ADD) // [off]
		p.Op(vm.DUP1, vm.CALLDATALOAD)                    // [off len]
		p.Op(vm.DUP1).Push(0xc0).Op(vm.MSTORE)            // mem[0xc0] = len
		// calldatacopy(0xe0, off+32, len); memory past it is still zero.
		p.Op(vm.DUP1, vm.DUP3).Push(32).Op(vm.ADD).Push(0xe0).Op(vm.CALLDATACOPY)
		// size = 0xe0 + ceil32(len); hash = keccak256(0, size)
		p.Push(31).Op(vm.ADD).Push(5).Op(vm.SHR).Push(5).Op(vm.SHL).Push(0xe0).Op(vm.ADD) // [off size]
		p.Push(0).Op(vm.KECCAK256)                                                        // [off hash]
		// sentMessages[hash] = true: slot keccak256(hash ‖ 0).
		p.Op(vm.DUP1).Push(0).Op(vm.MSTORE)
		p.Push(0).Push(0x20).Op(vm.MSTORE)
		p.Push(0x40).Push(0).Op(vm.KECCAK256) // [off hash slot]
		p.Push(1).Op(vm.SWAP1, vm.SSTORE)     // [off hash]
		// nonce++
		p.Push(1).Op(vm.SLOAD).Push(1).Op(vm.ADD).Push(1).Op(vm.SSTORE)
		// log1(hash, topic)
		p.Push(0).Op(vm.MSTORE) // [off]
		p.Push(messagePassedTopic).Push(32).Push(0).Op(vm.LOG1)
		p.Op(vm.STOP)
		return p
	}
	// Two passes: the first finds the JUMPDEST, the second uses it.
	return build(jumpdests(build(0).Bytes())[0]).Bytes()
}

// StorageContractCode is the runtime code of the storage contract: its
// calldata is a list of 64-byte (slot, value) pairs, each stored with SSTORE
// (a zero value clears the slot).
func StorageContractCode() []byte {
	build := func(loop, end uint64) *program.Program {
		p := program.New()
		p.Push(0) // [i]
		p.Jumpdest()
		p.Op(vm.CALLDATASIZE, vm.DUP2, vm.LT, vm.ISZERO) // [i i>=size]
		push2(p, end).Op(vm.JUMPI)
		p.Op(vm.DUP1).Push(32).Op(vm.ADD, vm.CALLDATALOAD) // [i value]
		p.Op(vm.DUP2, vm.CALLDATALOAD)                     // [i value slot]
		p.Op(vm.SSTORE)                                    // [i]
		p.Push(64).Op(vm.ADD)
		push2(p, loop).Op(vm.JUMP)
		p.Jumpdest()
		p.Op(vm.STOP)
		return p
	}
	d := jumpdests(build(0, 0).Bytes())
	return build(d[0], d[1]).Bytes()
}

// StorageCalldata encodes (slot, value) pairs for the storage contract.
func StorageCalldata(pairs [][2]common.Hash) []byte {
	data := make([]byte, 0, 64*len(pairs))
	for _, kv := range pairs {
		data = append(data, kv[0][:]...)
		data = append(data, kv[1][:]...)
	}
	return data
}

// WithdrawalCalldata encodes a call of initiateWithdrawal(target, gasLimit, data).
func WithdrawalCalldata(target common.Address, gasLimit uint64, data []byte) []byte {
	out := make([]byte, 0, 4+32*4+len(data)+31)
	out = append(out, initiateWithdrawalSelector...)
	out = append(out, common.LeftPadBytes(target[:], 32)...)
	out = append(out, common.LeftPadBytes(new(big.Int).SetUint64(gasLimit).Bytes(), 32)...)
	out = append(out, common.LeftPadBytes([]byte{0x60}, 32)...)
	out = append(out, common.LeftPadBytes(new(big.Int).SetInt64(int64(len(data))).Bytes(), 32)...)
	out = append(out, data...)
	if r := len(data) % 32; r != 0 {
		out = append(out, make([]byte, 32-r)...)
	}
	return out
}

// CreationCode returns init code that deploys runtime and, before returning
// it, writes slots 0..writes-1 of the new contract.
func CreationCode(runtime []byte, writes int) []byte {
	p := program.New()
	for i := 0; i < writes; i++ {
		p.Sstore(i, i+1)
	}
	return p.ReturnViaCodeCopy(runtime).Bytes()
}

// SelfDestructingCreationCode returns init code that writes a slot and then
// self-destructs in its own creation transaction, sending its balance to the
// beneficiary: under EIP-6780 the account and its storage are then removed.
func SelfDestructingCreationCode(beneficiary common.Address) []byte {
	p := program.New()
	p.Sstore(0, 1)
	return p.Selfdestruct(beneficiary).Bytes()
}

// transferSelector is keccak256("transfer(address,uint256)")[:4].
var transferSelector = []byte{0xa9, 0x05, 0x9c, 0xbb}

// transferTopic is the ERC-20 Transfer event topic.
var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// jumpdests returns the JUMPDEST positions of code, in order.
func jumpdests(code []byte) []uint64 {
	var out []uint64
	for pc := 0; pc < len(code); pc++ {
		op := vm.OpCode(code[pc])
		if op == vm.JUMPDEST {
			out = append(out, uint64(pc))
		}
		if op.IsPush() {
			pc += int(op - vm.PUSH0)
		}
	}
	return out
}

// TokenCode is the runtime code of a minimal ERC-20 token: `balances` is a
// mapping(address => uint256) at slot 0, and transfer(address to, uint256
// amount) moves amount from the caller (reverting when the balance is short),
// logs Transfer and returns true. A transfer writes the two balance slots.
func TokenCode() []byte {
	build := func(ok, short uint64) *program.Program {
		p := program.New()
		onlySelector(p, transferSelector, ok)
		// kFrom = keccak(caller ‖ 0)
		p.Op(vm.CALLER).Push(0).Op(vm.MSTORE).Push(0).Push(0x20).Op(vm.MSTORE)
		p.Push(0x40).Push(0).Op(vm.KECCAK256)                                    // [kFrom]
		p.Op(vm.DUP1, vm.SLOAD)                                                  // [kFrom bal]
		p.Push(36).Op(vm.CALLDATALOAD)                                           // [kFrom bal amt]
		p.Op(vm.DUP1, vm.DUP3, vm.LT)                                            // [kFrom bal amt bal<amt]
		push2(p, short).Op(vm.JUMPI)                                             // [kFrom bal amt]
		p.Op(vm.SWAP1, vm.SUB)                                                   // [kFrom bal-amt]
		p.Op(vm.SWAP1, vm.SSTORE)                                                // []
		p.Push(4).Op(vm.CALLDATALOAD).Push(common.MaxAddress.Bytes()).Op(vm.AND) // [to]
		p.Op(vm.DUP1).Push(0).Op(vm.MSTORE)                                      // mem[0]=to, mem[0x20]=0 still
		p.Push(0x40).Push(0).Op(vm.KECCAK256)                                    // [to kTo]
		p.Op(vm.DUP1, vm.SLOAD).Push(36).Op(vm.CALLDATALOAD, vm.ADD)             // [to kTo new]
		p.Op(vm.SWAP1, vm.SSTORE)                                                // [to]
		p.Push(36).Op(vm.CALLDATALOAD).Push(0).Op(vm.MSTORE)                     // mem[0]=amount
		p.Op(vm.CALLER).Push(transferTopic).Push(0x20).Push(0)                   // [to caller topic 32 0]
		p.Op(vm.LOG3)                                                            // log3(0, 32, topic, caller, to)
		p.Push(1).Push(0).Op(vm.MSTORE).Push(0x20).Push(0).Op(vm.RETURN)
		p.Jumpdest()
		p.Push(0).Push(0).Op(vm.REVERT)
		return p
	}
	d := jumpdests(build(0, 0).Bytes())
	return build(d[0], d[1]).Bytes()
}

// TokenBalanceSlot is the storage key of balances[holder].
func TokenBalanceSlot(holder common.Address) common.Hash {
	return crypto.Keccak256Hash(common.LeftPadBytes(holder[:], 32), make([]byte, 32))
}

// TransferCalldata encodes transfer(to, amount).
func TransferCalldata(to common.Address, amount uint64) []byte {
	out := append([]byte{}, transferSelector...)
	out = append(out, common.LeftPadBytes(to[:], 32)...)
	return append(out, common.LeftPadBytes(new(big.Int).SetUint64(amount).Bytes(), 32)...)
}

// PoolCode is the runtime code of a constant-product pool stand-in: the
// calldata is one word amountIn; it sets reserve0 (slot 0) += amountIn,
// reserve1 (slot 1) -= reserve1·amountIn/(reserve0+amountIn) and bumps a
// swap counter (slot 2). Every swap rewrites the same three hot slots.
func PoolCode() []byte {
	p := program.New()
	p.Push(0).Op(vm.CALLDATALOAD)                // [in]
	p.Push(0).Op(vm.SLOAD, vm.DUP2, vm.ADD)      // [in r0']
	p.Op(vm.DUP1).Push(0).Op(vm.SSTORE)          // [in r0']
	p.Push(1).Op(vm.SLOAD)                       // [in r0' r1]
	p.Op(vm.DUP1, vm.DUP4, vm.MUL)               // [in r0' r1 r1*in]
	p.Op(vm.DUP3, vm.SWAP1, vm.DIV)              // [in r0' r1 out]
	p.Op(vm.SWAP1, vm.SUB).Push(1).Op(vm.SSTORE) // [in r0']
	p.Push(2).Op(vm.SLOAD).Push(1).Op(vm.ADD).Push(2).Op(vm.SSTORE)
	p.Op(vm.STOP)
	return p.Bytes()
}
