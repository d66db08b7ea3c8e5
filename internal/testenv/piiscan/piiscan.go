// Package piiscan looks for a person's values where an erasure must have
// removed them: every item of a DynamoDB table (a full Scan, which tests
// may do and the erasure never does) and the files of a directory (the
// local email outbox). The API's erasure test on DynamoDB Local and the
// local stack's end-to-end test share it.
package piiscan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table scans every item of the table, strongly consistently, and returns
// "PK SK attribute: value holds value" for every string (at any depth,
// map keys and binary values included) that holds one of the values,
// whatever its case.
func Table(tb testing.TB, client *dynamodb.Client, table string, values []string) []string {
	tb.Helper()
	var out []string
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(tb.Context())
		if err != nil {
			tb.Fatalf("Scan %s: %v", table, err)
		}
		for _, item := range page.Items {
			where := fmt.Sprintf("%v %v", str(item["PK"]), str(item["SK"]))
			for name, v := range item {
				walkStrings(v, func(s string) {
					for _, p := range values {
						if strings.Contains(strings.ToLower(s), strings.ToLower(p)) {
							out = append(out, fmt.Sprintf("%s %s: %q holds %q", where, name, s, p))
						}
					}
				})
			}
		}
	}
	return out
}

// Dir returns the names of the files in dir holding one of the values,
// whatever its case; a missing dir holds none.
func Dir(tb testing.TB, dir string, values []string) []string {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range values {
			if strings.Contains(strings.ToLower(string(b)), strings.ToLower(p)) {
				out = append(out, de.Name())
				break
			}
		}
	}
	return out
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func walkStrings(v types.AttributeValue, f func(string)) {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		f(t.Value)
	case *types.AttributeValueMemberSS:
		for _, s := range t.Value {
			f(s)
		}
	case *types.AttributeValueMemberL:
		for _, e := range t.Value {
			walkStrings(e, f)
		}
	case *types.AttributeValueMemberM:
		for k, e := range t.Value {
			f(k)
			walkStrings(e, f)
		}
	case *types.AttributeValueMemberB:
		f(string(t.Value))
	}
}
