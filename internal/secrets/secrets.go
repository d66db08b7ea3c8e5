// Package secrets reads secret documents from AWS Secrets Manager. Lambdas
// read them once at cold start; nothing secret is ever in the template or
// environment.
package secrets

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Load returns the SecretString of the secret with the given ARN or name.
func Load(ctx context.Context, arn string) ([]byte, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load secret %s: aws config: %w", arn, err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("load secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("load secret %s: it has no string value", arn)
	}
	return []byte(*out.SecretString), nil
}
