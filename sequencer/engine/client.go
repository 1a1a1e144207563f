package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// The Engine API methods the client calls.
const (
	MethodForkchoiceUpdatedV3  = "engine_forkchoiceUpdatedV3"
	MethodGetPayloadV3         = "engine_getPayloadV3"
	MethodGetPayloadV4         = "engine_getPayloadV4"
	MethodNewPayloadV3         = "engine_newPayloadV3"
	MethodNewPayloadV4         = "engine_newPayloadV4"
	MethodExchangeCapabilities = "engine_exchangeCapabilities"
)

// methods are what Start requires the server to serve.
var methods = []string{
	MethodForkchoiceUpdatedV3,
	MethodGetPayloadV3, MethodGetPayloadV4,
	MethodNewPayloadV3, MethodNewPayloadV4,
}

// DefaultURL is op-geth's default authrpc endpoint.
const DefaultURL = "http://127.0.0.1:8551"

// DefaultTimeout bounds a call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config configures a Client.
type Config struct {
	// URL of op-geth's authrpc endpoint (--authrpc.addr/--authrpc.port);
	// http, https, ws or wss. Empty means DefaultURL.
	URL string
	// JWTSecretPath is the file op-geth's --authrpc.jwtsecret reads: a
	// 32-byte secret in hex, with or without 0x, surrounding space ignored.
	JWTSecretPath string
	// Timeout bounds each call. Zero means DefaultTimeout.
	Timeout time.Duration
	// OnCall, if set, is called once after every call with its method,
	// latency and error (nil on success; a non-VALID payload status is not
	// an error). It runs on the caller's goroutine, so it must be quick.
	OnCall func(method string, d time.Duration, err error)
}

// Client is an Engine API client for op-geth. Its methods are safe for
// concurrent use between Start and Stop.
type Client struct {
	cfg Config
	rpc *rpc.Client
}

// New returns a client for cfg. It does no I/O.
func New(cfg Config) *Client {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{cfg: cfg}
}

// Start reads the JWT secret, dials the endpoint and checks, with
// engine_exchangeCapabilities, that op-geth accepts the secret and serves
// every method the client calls.
func (c *Client) Start(ctx context.Context) error {
	if c.rpc != nil {
		return errors.New("engine: client already started")
	}
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return fmt.Errorf("engine: URL %q: %w", c.cfg.URL, err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("engine: URL %q: scheme must be http, https, ws or wss", c.cfg.URL)
	}
	secret, err := ReadJWTSecret(c.cfg.JWTSecretPath)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	cl, err := rpc.DialOptions(ctx, c.cfg.URL, rpc.WithHTTPAuth(node.NewJWTAuth(secret)))
	if err != nil {
		return fmt.Errorf("engine: dial %s: %w", c.cfg.URL, err)
	}
	var served []string
	if err := c.call(ctx, cl, &served, MethodExchangeCapabilities, methods); err != nil {
		cl.Close()
		return fmt.Errorf("engine: %s at %s: %w", MethodExchangeCapabilities, c.cfg.URL, c.explain(err))
	}
	have := make(map[string]bool, len(served))
	for _, m := range served {
		have[m] = true
	}
	var missing []string
	for _, m := range methods {
		if !have[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		cl.Close()
		return fmt.Errorf("engine: %s does not serve %s (not an op-geth with Isthmus support?)", c.cfg.URL, strings.Join(missing, ", "))
	}
	c.rpc = cl
	return nil
}

// Stop closes the connection. Calls after Stop fail.
func (c *Client) Stop() {
	if c.rpc != nil {
		c.rpc.Close()
	}
}

// ForkchoiceUpdated calls engine_forkchoiceUpdatedV3: it moves op-geth's
// head, safe and finalized blocks to state and, if attrs is not nil, starts
// building a payload on the head, whose ID the response carries.
//
// op-geth requires of attrs on an OP chain: Withdrawals non-nil and, from
// Canyon, empty; BeaconRoot non-nil; GasLimit non-nil; EIP1559Params exactly
// 8 bytes from Holocene (denominator and elasticity as big-endian uint32s,
// both zero or both non-zero; zero means the chain config's values) and
// empty before; MinBaseFee non-nil from Jovian. Transactions are forced into
// the block in order (the L1-attributes deposit first); with NoTxPool set,
// nothing else is, and op-geth builds and executes the whole block inside
// this call (GetPayload then only fetches it). Without NoTxPool op-geth keeps
// adding pool transactions in the background until GetPayload. A forced
// transaction that cannot be included fails the build: the response is an
// "Invalid payload attributes" (-38003) error.
func (c *Client) ForkchoiceUpdated(ctx context.Context, state engine.ForkchoiceStateV1, attrs *engine.PayloadAttributes) (engine.ForkChoiceResponse, error) {
	var res engine.ForkChoiceResponse
	if err := c.do(ctx, &res, MethodForkchoiceUpdatedV3, state, attrs); err != nil {
		what := fmt.Sprintf("head %s", state.HeadBlockHash.TerminalString())
		if attrs != nil {
			what += fmt.Sprintf(" build at time %d", attrs.Timestamp)
		}
		return res, fmt.Errorf("%s %s: %w", MethodForkchoiceUpdatedV3, what, err)
	}
	return res, nil
}

// GetPayload collects the payload id names: engine_getPayloadV4 if the
// payload is in Isthmus or later, engine_getPayloadV3 before.
//
// An Isthmus payload carries WithdrawalsRoot (the L2ToL1MessagePasser's
// storage root after the block), an empty executionRequests list and
// extraData holding the block's EIP-1559 parameters (version byte 0 then
// denominator and elasticity as uint32s; from Jovian version 1 and the
// minimum base fee as a uint64 appended).
func (c *Client) GetPayload(ctx context.Context, id engine.PayloadID, isthmus bool) (*engine.ExecutionPayloadEnvelope, error) {
	method := MethodGetPayloadV3
	if isthmus {
		method = MethodGetPayloadV4
	}
	var res engine.ExecutionPayloadEnvelope
	if err := c.do(ctx, &res, method, id); err != nil {
		return nil, fmt.Errorf("%s payload %s: %w", method, id, err)
	}
	if res.ExecutionPayload == nil {
		return nil, fmt.Errorf("%s payload %s: response has no executionPayload", method, id)
	}
	return &res, nil
}

// NewPayload has op-geth execute and store payload without making it the
// head: engine_newPayloadV4 with no blob hashes and an empty
// executionRequests list if the payload is in Isthmus or later,
// engine_newPayloadV3 with no blob hashes before. parentBeaconRoot is the
// BeaconRoot of the attributes the payload was built from.
//
// The status is VALID only if op-geth executed the payload and every header
// field matched; INVALID (with ValidationError), SYNCING or ACCEPTED
// otherwise. op-geth answers a JSON-RPC error instead if a field the fork
// needs is nil (Withdrawals, BlobGasUsed, ExcessBlobGas) and INVALID if the
// OP rules fail (non-empty withdrawals from Canyon, WithdrawalsRoot nil from
// Isthmus or set before, extraData not the fork's EIP-1559 encoding).
func (c *Client) NewPayload(ctx context.Context, payload *engine.ExecutableData, parentBeaconRoot common.Hash, isthmus bool) (engine.PayloadStatusV1, error) {
	var res engine.PayloadStatusV1
	if payload == nil {
		return res, errors.New("engine: NewPayload of a nil payload")
	}
	var err error
	method := MethodNewPayloadV3
	if isthmus {
		method = MethodNewPayloadV4
		err = c.do(ctx, &res, method, payload, []common.Hash{}, &parentBeaconRoot, []hexutil.Bytes{})
	} else {
		err = c.do(ctx, &res, method, payload, []common.Hash{}, &parentBeaconRoot)
	}
	if err != nil {
		return res, fmt.Errorf("%s block %d (%s): %w", method, payload.Number, payload.BlockHash.TerminalString(), err)
	}
	return res, nil
}

// do makes one call on the started client.
func (c *Client) do(ctx context.Context, result any, method string, args ...any) error {
	if c.rpc == nil {
		return errors.New("client not started")
	}
	if err := c.call(ctx, c.rpc, result, method, args...); err != nil {
		return c.explain(err)
	}
	return nil
}

// call makes one call under the timeout and reports it to OnCall.
func (c *Client) call(ctx context.Context, cl *rpc.Client, result any, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	err := cl.CallContext(ctx, result, method, args...)
	if c.cfg.OnCall != nil {
		c.cfg.OnCall(method, time.Since(start), err)
	}
	return err
}

// explain adds what op-geth's errors leave out: the hint for a rejected
// token and the reason op-geth puts in an Engine API error's data.
func (c *Client) explain(err error) error {
	var he rpc.HTTPError
	if errors.As(err, &he) && (he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden) {
		msg := he.Status
		if body := strings.TrimSpace(string(he.Body)); body != "" {
			msg += ": " + body
		}
		return &wrapped{
			msg: fmt.Sprintf("JWT rejected (is %s the secret op-geth's --authrpc.jwtsecret reads?): %s", c.cfg.JWTSecretPath, msg),
			err: err,
		}
	}
	var de rpc.DataError
	if errors.As(err, &de) && de.ErrorData() != nil {
		return fmt.Errorf("%w (%v)", err, de.ErrorData())
	}
	return err
}

// wrapped is an error with its own message that unwraps to its cause.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// ReadJWTSecret reads a JWT secret file the way op-geth reads
// --authrpc.jwtsecret: 32 bytes in hex, with or without 0x, surrounding
// space ignored. Unlike op-geth it never creates the file.
func ReadJWTSecret(path string) ([32]byte, error) {
	var secret [32]byte
	if path == "" {
		return secret, errors.New("no JWT secret file configured")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return secret, fmt.Errorf("read JWT secret: %w", err)
	}
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return secret, fmt.Errorf("JWT secret %s is not hex: %w", path, err)
	}
	if len(b) != len(secret) {
		return secret, fmt.Errorf("JWT secret %s holds %d bytes, want 32 (64 hex digits)", path, len(b))
	}
	copy(secret[:], b)
	return secret, nil
}
