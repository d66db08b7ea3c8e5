package localstack

// StopDynamoDB kills the stack's DynamoDB Local so tests can watch health
// checks notice.
func StopDynamoDB(s *Stack) { s.ddb.Stop() }
