package loadtest

import "testing"

func TestCallCost(t *testing.T) {
	before := map[string]float64{"dynamodb.GetItem": 10, "dynamodb.PutItem": 5, "temporal.StartWorkflowExecution": 1}
	after := map[string]float64{"dynamodb.GetItem": 50, "dynamodb.PutItem": 5, "dynamodb.TransactWriteItems": 20, "temporal.StartWorkflowExecution": 11, "streams.GetRecords": 3}
	total, detail := callCost(before, after, "dynamodb", 10)
	if total != 6 || detail != "GetItem 4.00, TransactWriteItems 2.00" {
		t.Errorf("dynamodb = %v, %q", total, detail)
	}
	if total, detail := callCost(before, after, "temporal", 10); total != 1 || detail != "StartWorkflowExecution 1.00" {
		t.Errorf("temporal = %v, %q", total, detail)
	}
}
