package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableDefinition returns the table's schema, the one place it is written
// down: on-demand billing, string PK/SK, GSI1 and GSI2 for calendar scans
// and journey enrollments, GSI3 for the member index, and a stream with
// both images for the dispatcher.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	str := func(attr string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(attr), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(attrPK), str(attrSK), str(attrGSI1PK), str(attrGSI1SK), str(attrGSI2PK), str(attrGSI2SK),
			str(attrGSI3PK), str(attrGSI3SK),
		},
		KeySchema: key(attrPK, attrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(gsi1Name),
			KeySchema:  key(attrGSI1PK, attrGSI1SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName:  aws.String(gsi2Name),
			KeySchema:  key(attrGSI2PK, attrGSI2SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName:  aws.String(gsi3Name),
			KeySchema:  key(attrGSI3PK, attrGSI3SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}

// tableActiveTimeout bounds each of EnsureTable's waits; on AWS a new table
// with its GSIs is usually active within a minute, while an index added to
// a table with data is backfilled first, which can take longer.
const tableActiveTimeout = 5 * time.Minute

// EnsureTable creates the table from TableDefinition unless it exists, adds
// any index of TableDefinition an existing table lacks (one created before
// the index was), then waits until the table and every index are ACTIVE.
// It compares nothing else of an existing table's schema.
func EnsureTable(ctx context.Context, client *dynamodb.Client, name string) error {
	def := TableDefinition(name)
	_, err := client.CreateTable(ctx, def)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	// The default first back-off is 20s, far too slow for DynamoDB Local
	// and for tests; AWS tables are polled every second or so instead.
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 500 * time.Millisecond
		o.MaxDelay = 10 * time.Second
	})
	desc, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableActiveTimeout)
	if err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	// DynamoDB adds one index per UpdateTable, and refuses the next while
	// the table is still updating, so each is added and waited for in turn.
	for _, gsi := range def.GlobalSecondaryIndexes {
		if hasIndex(desc.Table, aws.ToString(gsi.IndexName)) {
			continue
		}
		if err := addIndex(ctx, client, def, gsi); err != nil {
			return fmt.Errorf("table %s: add index %s: %w", name, aws.ToString(gsi.IndexName), err)
		}
	}
	// An index another process is adding is there but not yet usable.
	if !active(desc.Table) {
		if err := waitActive(ctx, client, name, ""); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
	}
	return nil
}

// addIndex creates gsi on the table, then waits until the table and all
// its indexes, gsi among them, are ACTIVE.
func addIndex(ctx context.Context, client *dynamodb.Client, def *dynamodb.CreateTableInput, gsi types.GlobalSecondaryIndex) error {
	_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:            def.TableName,
		AttributeDefinitions: keyAttributes(def.AttributeDefinitions, gsi.KeySchema),
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName:             gsi.IndexName,
			KeySchema:             gsi.KeySchema,
			Projection:            gsi.Projection,
			ProvisionedThroughput: gsi.ProvisionedThroughput,
		}}},
	})
	// Another process starting at the same moment may have added it
	// first; the wait settles that case like any other.
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return err
	}
	return waitActive(ctx, client, aws.ToString(def.TableName), aws.ToString(gsi.IndexName))
}

// indexPoll is how often waitActive asks; DynamoDB Local activates an
// index at once, AWS after backfilling it.
const indexPoll = 500 * time.Millisecond

// waitActive polls until the table and all its indexes are ACTIVE and,
// unless index is "", index is among them.
func waitActive(ctx context.Context, client *dynamodb.Client, table, index string) error {
	ctx, cancel := context.WithTimeout(ctx, tableActiveTimeout)
	defer cancel()
	for {
		desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("wait until active: %w", err)
		}
		if active(desc.Table) && (index == "" || hasIndex(desc.Table, index)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait until active: %w", ctx.Err())
		case <-time.After(indexPoll):
		}
	}
}

// active reports whether the table and every index it has are ACTIVE.
func active(t *types.TableDescription) bool {
	if t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, gsi := range t.GlobalSecondaryIndexes {
		if gsi.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

func hasIndex(t *types.TableDescription, name string) bool {
	return slices.ContainsFunc(t.GlobalSecondaryIndexes, func(gsi types.GlobalSecondaryIndexDescription) bool {
		return aws.ToString(gsi.IndexName) == name
	})
}

// keyAttributes picks the definitions of the attributes in key: an
// UpdateTable that adds an index must define its key attributes.
func keyAttributes(defs []types.AttributeDefinition, key []types.KeySchemaElement) []types.AttributeDefinition {
	var out []types.AttributeDefinition
	for _, d := range defs {
		if slices.ContainsFunc(key, func(k types.KeySchemaElement) bool {
			return aws.ToString(k.AttributeName) == aws.ToString(d.AttributeName)
		}) {
			out = append(out, d)
		}
	}
	return out
}
