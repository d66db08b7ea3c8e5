package ledgerenv_test

import (
	"context"
	"testing"

	"github.com/memberflow/memberflow/internal/lambdaenv/ledgerenv"
)

func TestCodeSecret(t *testing.T) {
	sec, err := ledgerenv.CodeSecret([]byte(`{"code_secret":"0123456789abcdef"}`))
	if err != nil || string(sec) != "0123456789abcdef" {
		t.Errorf("secret = %q, %v", sec, err)
	}
	for _, bad := range []string{`{"code_secret":"short"}`, `{}`, `[]`, `x`} {
		if _, err := ledgerenv.CodeSecret([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestLedgerNeedsTheARN(t *testing.T) {
	if _, err := ledgerenv.Ledger(context.Background(), nil, ""); err == nil || err.Error() != "CODE_SECRET_ARN is required" {
		t.Errorf("err = %v, want CODE_SECRET_ARN is required", err)
	}
}
