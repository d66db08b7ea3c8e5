package activities

import (
	"maps"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
)

// TemplateData is the dynamic template data of every journey email for a
// member. The worker, the outbox, `memberflow templates preview` and the
// console's previews all build it here, so a preview shows exactly what a
// send renders.
func TemplateData(m loyalty.Member, b Brand, unsubscribeURL string) map[string]any {
	return map[string]any{
		"name":            m.Name,
		"brand":           b.Name,
		"shop_url":        b.ShopURL,
		"unsubscribe_url": unsubscribeURL,
	}
}

// PreviewUnsubscribePath is the unsubscribe link of a preview: it
// unsubscribes nobody.
const PreviewUnsubscribePath = "/v1/unsubscribe?token=preview"

// SampleMemberID is the id of SampleMember.
const SampleMemberID = "sample"

// SampleMember is the member a preview renders for when none is chosen.
func SampleMember() loyalty.Member {
	return loyalty.Member{
		ID:      SampleMemberID,
		Name:    "Lin Wei",
		Email:   "lin.wei@example.com",
		Consent: loyalty.Consent{EmailMarketing: true},
	}
}

// PreviewData is the data a preview of template name renders with: the
// template's example values for the step variables only a journey step
// supplies, then the member's base data (TemplateData), then vars — the
// order a send applies its base data and its step's variables in. So a
// preview always shows the member's own name.
func PreviewData(c *mail.Catalog, name string, base, vars map[string]any) (map[string]any, error) {
	examples, err := c.Examples(name)
	if err != nil {
		return nil, err
	}
	data := make(map[string]any, len(examples)+len(base)+len(vars))
	for k, v := range examples {
		data[k] = v
	}
	maps.Copy(data, base)
	maps.Copy(data, vars)
	return data, nil
}
