package activities

import "context"

// PerMemberForTest exposes perMember to the external tests.
func PerMemberForTest(a *Activities, counts map[string]int, memberID string, err error) error {
	return a.perMember(context.Background(), counts, memberID, err)
}
