// Package engine is Strata's Engine API client: it drives an op-geth the way
// op-node's sequencer does, over the JWT-authenticated authrpc endpoint, with
// op-geth's own beacon/engine types (which carry the OP Stack payload
// attributes Transactions, NoTxPool, GasLimit, EIP1559Params and MinBaseFee).
//
// A block is made in four calls: ForkchoiceUpdated with payload attributes
// starts a build on the head, GetPayload collects the sealed payload,
// NewPayload has op-geth execute and store it, and ForkchoiceUpdated without
// attributes makes it the head.
//
// Invariants:
//
//   - New does no I/O. Start reads the JWT secret, dials and checks, with
//     engine_exchangeCapabilities, that the server accepts the secret and
//     serves every method the client calls; Stop closes the connection.
//   - Method versions follow op-node's rules for OP Stack forks, which are the
//     ones op-geth enforces: engine_forkchoiceUpdatedV3 (Ecotone and later),
//     engine_getPayloadV3 and engine_newPayloadV3 before Isthmus,
//     engine_getPayloadV4 and engine_newPayloadV4 (with an empty
//     executionRequests list) from Isthmus on. The caller says which fork the
//     payload's timestamp is in; op-geth rejects a mismatch with "Unsupported
//     fork" (-38005).
//   - Every call sent to op-geth (Start's engine_exchangeCapabilities
//     included) is bounded by Config.Timeout and reported exactly once to
//     Config.OnCall with its method name, latency and error.
//   - A transport or JSON-RPC failure is an error that names the method and
//     the block, head or payload it was about, and wraps the cause (errors.As
//     finds the rpc.Error, rpc.DataError or rpc.HTTPError). A payload status
//     of INVALID, SYNCING or ACCEPTED is not an error: the caller checks
//     Status.
//   - The client never modifies the payloads and attributes it is given.
package engine
