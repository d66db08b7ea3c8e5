package activities

import "context"

// PerMemberForTest exposes perMember to the external tests.
func PerMemberForTest(a *Activities, counts map[string]int, memberID string, err error) error {
	return a.perMember(context.Background(), counts, memberID, err)
}

// PerMemberCtxForTest is PerMemberForTest with the activity's context.
func PerMemberCtxForTest(ctx context.Context, a *Activities, counts map[string]int, memberID string, err error) error {
	return a.perMember(ctx, counts, memberID, err)
}
