package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/strata-chain/strata/api/statuspb"
)

// StatusFunc reports the node's current status.
type StatusFunc func() *statuspb.NodeStatus

type statusServer struct {
	statuspb.UnimplementedStatusServer
	fn StatusFunc
}

func (s statusServer) GetStatus(context.Context, *statuspb.GetStatusRequest) (*statuspb.NodeStatus, error) {
	return s.fn(), nil
}

// RegisterStatus adds the strata.v1.Status service to a gRPC server.
func RegisterStatus(s *grpc.Server, fn StatusFunc) {
	statuspb.RegisterStatusServer(s, statusServer{fn: fn})
}

// StatusGateway is the REST mapping of the Status service (GET /v1/status)
// made by grpc-gateway, calling fn in process. Field names are the proto
// names (snake_case) and every field is present, zeros included.
func StatusGateway(ctx context.Context, fn StatusFunc) (http.Handler, error) {
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
	}))
	if err := statuspb.RegisterStatusHandlerServer(ctx, mux, statusServer{fn: fn}); err != nil {
		return nil, fmt.Errorf("status gateway: %w", err)
	}
	return mux, nil
}
