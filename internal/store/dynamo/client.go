package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// localRegion signs requests to a local endpoint when no region is given;
// DynamoDB Local ignores it but the signer needs one.
const localRegion = "us-east-1"

// NewClient returns a DynamoDB client. With endpoint set (DynamoDB Local) it
// uses static dummy credentials, because Local accepts any and a developer's
// real credentials should never be sent to it; without, the default AWS
// configuration chain (environment, shared files, role). optFns adjust the
// client further (the local stack counts its calls).
func NewClient(ctx context.Context, endpoint, region string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	var opts []func(*config.LoadOptions) error
	if endpoint != "" && region == "" {
		region = localRegion
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if endpoint != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local sends error responses without X-Amz-Crc32, and
			// this SDK then compares against 0 and logs a bogus checksum
			// warning for every failed condition.
			o.DisableValidateResponseChecksum = true
		}
		for _, f := range optFns {
			f(o)
		}
	}), nil
}
