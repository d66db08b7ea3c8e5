package opcount

import (
	"context"
	"expvar"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Capacity holds the DynamoDB capacity units the counted client
// consumed, as DynamoDB reports them (ReturnConsumedCapacity TOTAL), by
// operation: "<prefix>.<Operation>.read" and "<prefix>.<Operation>.write",
// indexes included. On-demand tables bill these as read and write request
// units.
var Capacity = expvar.NewMap("memberflow_capacity")

// DynamoDBCapacity is a DynamoDB client option (dynamodb.Options.APIOptions)
// that asks every call for its consumed capacity and adds it to Capacity
// under prefix. The local stack counts with it, so a run's cost is
// measured in units, not only calls.
func DynamoDBCapacity(prefix string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("memberflowCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				askCapacity(in.Parameters)
				out, md, err := next.HandleInitialize(ctx, in)
				if err == nil {
					for _, c := range consumed(out.Result) {
						read, write := aws.ToFloat64(c.ReadCapacityUnits), aws.ToFloat64(c.WriteCapacityUnits)
						if read == 0 && write == 0 {
							// Some calls report only a total; a read call's
							// total is reads, a write call's writes.
							if isRead(in.Parameters) {
								read = aws.ToFloat64(c.CapacityUnits)
							} else {
								write = aws.ToFloat64(c.CapacityUnits)
							}
						}
						op := prefix + "." + awsmiddleware.GetOperationName(ctx)
						Capacity.AddFloat(op+".read", read)
						Capacity.AddFloat(op+".write", write)
					}
				}
				return out, md, err
			}), middleware.After)
	}
}

// CapacitySnapshot returns the capacity counters now.
func CapacitySnapshot() map[string]float64 {
	out := map[string]float64{}
	Capacity.Do(func(kv expvar.KeyValue) {
		if f, ok := kv.Value.(*expvar.Float); ok {
			out[kv.Key] = f.Value()
		}
	})
	return out
}

func askCapacity(params any) {
	const total = types.ReturnConsumedCapacityTotal
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.TransactGetItemsInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		in.ReturnConsumedCapacity = total
	}
}

func isRead(params any) bool {
	switch params.(type) {
	case *dynamodb.GetItemInput, *dynamodb.QueryInput, *dynamodb.ScanInput, *dynamodb.BatchGetItemInput, *dynamodb.TransactGetItemsInput:
		return true
	}
	return false
}

func consumed(result any) []types.ConsumedCapacity {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		return out.ConsumedCapacity
	case *dynamodb.BatchWriteItemOutput:
		return out.ConsumedCapacity
	case *dynamodb.TransactGetItemsOutput:
		return out.ConsumedCapacity
	case *dynamodb.TransactWriteItemsOutput:
		return out.ConsumedCapacity
	}
	return nil
}
