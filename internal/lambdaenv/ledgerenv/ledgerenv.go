// Package ledgerenv builds the loyalty ledger for the Lambda functions that
// use it (api, dispatch) from the code secret in Secrets Manager. It is
// apart from lambdaenv so that the functions that do not (ingest,
// sendgrid-events) do not link the ledger and the programme.
package ledgerenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberflow/memberflow/internal/lambdaenv"
	"github.com/memberflow/memberflow/internal/ledger"
	"github.com/memberflow/memberflow/templates"
)

// CodeSecret parses the coupon code secret document {"code_secret":"…"}.
func CodeSecret(doc []byte) ([]byte, error) {
	var d struct {
		CodeSecret string `json:"code_secret"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("code secret: must be JSON {\"code_secret\":\"…\"}: %w", err)
	}
	if len(d.CodeSecret) < 16 {
		return nil, errors.New("code secret: code_secret must be at least 16 characters")
	}
	return []byte(d.CodeSecret), nil
}

// Ledger builds the loyalty ledger service over the default programme,
// keyed by the code secret at codeSecretARN (CODE_SECRET_ARN).
func Ledger(ctx context.Context, env *lambdaenv.Env, codeSecretARN string) (*ledger.Service, error) {
	doc, err := lambdaenv.Secret(ctx, "CODE_SECRET_ARN", codeSecretARN)
	if err != nil {
		return nil, err
	}
	sec, err := CodeSecret(doc)
	if err != nil {
		return nil, err
	}
	return ledger.New(templates.Program, sec, env.Store, env.Log.With("component", "ledger"))
}
