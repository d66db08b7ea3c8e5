package activities

import "github.com/memberflow/memberflow/internal/loyalty"

// TemplateData is the dynamic template data of every journey email for a
// member. The worker, the outbox and `memberflow templates preview` all
// build it here, so a preview shows exactly what a send renders.
func TemplateData(m loyalty.Member, b Brand, unsubscribeURL string) map[string]any {
	return map[string]any{
		"name":            m.Name,
		"brand":           b.Name,
		"shop_url":        b.ShopURL,
		"unsubscribe_url": unsubscribeURL,
	}
}
