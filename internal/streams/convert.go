package streams

import (
	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// toLambdaRecord converts an SDK stream record into the shape Lambda
// delivers, so the handler cannot tell the two apart.
func toLambdaRecord(streamARN string, r types.Record) lambdaevents.DynamoDBEventRecord {
	out := lambdaevents.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if d := r.Dynamodb; d != nil {
		out.Change = lambdaevents.DynamoDBStreamRecord{
			Keys:           toLambdaMap(d.Keys),
			NewImage:       toLambdaMap(d.NewImage),
			OldImage:       toLambdaMap(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = lambdaevents.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

func toLambdaMap(m map[string]types.AttributeValue) map[string]lambdaevents.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]lambdaevents.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = toLambdaValue(v)
	}
	return out
}

func toLambdaValue(v types.AttributeValue) lambdaevents.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return lambdaevents.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return lambdaevents.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return lambdaevents.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]lambdaevents.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = toLambdaValue(e)
		}
		return lambdaevents.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return lambdaevents.NewMapAttribute(toLambdaMap(v.Value))
	default: // NULL and any member a future SDK adds
		return lambdaevents.NewNullAttribute()
	}
}
