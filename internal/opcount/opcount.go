// Package opcount counts the calls memberflow makes to DynamoDB and to
// Temporal, so the cost of one event from webhook to outbox is a measured
// figure rather than an estimate. The counts are an expvar map,
// "memberflow_calls", which the local stack serves at GET /debug/vars and
// `memberflow load` reads before and after a run.
package opcount

import (
	"context"
	"expvar"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"google.golang.org/grpc"
)

// Calls holds one counter per operation: "dynamodb.<Operation>" (one per
// call, retries not counted), "streams.<Operation>" for the stream reader
// and "temporal.<Method>" for every gRPC round trip to the Temporal
// frontend, the worker's polls included.
var Calls = expvar.NewMap("memberflow_calls")

// AWS is an aws-sdk-go-v2 client option (dynamodb.Options.APIOptions and
// the like) that counts each operation under prefix.
func AWS(prefix string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("memberflowOpCount",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				Calls.Add(prefix+"."+awsmiddleware.GetOperationName(ctx), 1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// Temporal is a gRPC dial option for the Temporal client that counts every
// unary call by its method name (e.g. temporal.StartWorkflowExecution).
func Temporal() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		Calls.Add("temporal."+method[strings.LastIndexByte(method, '/')+1:], 1)
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// Snapshot returns the counters now, for differences between two moments.
func Snapshot() map[string]int64 {
	out := map[string]int64{}
	Calls.Do(func(kv expvar.KeyValue) {
		if n, ok := kv.Value.(*expvar.Int); ok {
			out[kv.Key] = n.Value()
		}
	})
	return out
}
