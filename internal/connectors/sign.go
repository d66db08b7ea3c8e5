package connectors

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
)

// Headers are the headers a platform sends with body: its signature keyed
// with secret, the topic and the delivery id. clientID is Youzan's
// client_id, which its signature covers; the others ignore it. It is what
// `memberflow send-event --as <platform>` and the tests send.
func Headers(platform, topic, delivery, clientID string, secret, body []byte) (http.Header, error) {
	h := http.Header{}
	switch platform {
	case Shopify:
		h.Set(ShopifyHeaderHMAC, SignBase64HMAC(secret, body))
		h.Set(ShopifyHeaderTopic, topic)
		h.Set(ShopifyHeaderWebhookID, delivery)
	case WooCommerce:
		h.Set(WooHeaderSignature, SignBase64HMAC(secret, body))
		h.Set(WooHeaderTopic, topic)
		h.Set(WooHeaderDeliveryID, delivery)
	case Youzan:
		h.Set(YouzanHeaderSign, SignYouzan(clientID, secret, body))
		h.Set(YouzanHeaderType, topic)
		h.Set(YouzanHeaderClientID, clientID)
	default:
		return nil, fmt.Errorf("platform %q: must be one of %s", platform, strings.Join(Platforms(), ", "))
	}
	return h, nil
}

// TopicFromFile infers a sample's topic: Shopify's from the file name
// (orders_paid.json is orders/paid), WooCommerce's from the name's first
// two dot-separated parts (order.updated.refunded.json is order.updated),
// Youzan's from the push's "type" field.
func TopicFromFile(platform, path string, body []byte) (string, error) {
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	switch platform {
	case Shopify:
		if resource, action, ok := strings.Cut(base, "_"); ok {
			return resource + "/" + action, nil
		}
	case WooCommerce:
		if parts := strings.SplitN(base, ".", 3); len(parts) >= 2 {
			return parts[0] + "." + parts[1], nil
		}
	case Youzan:
		var p youzanPush
		if err := json.Unmarshal(body, &p); err == nil && p.Type != "" {
			return p.Type, nil
		}
	default:
		return "", fmt.Errorf("platform %q: must be one of %s", platform, strings.Join(Platforms(), ", "))
	}
	return "", fmt.Errorf("cannot tell the %s topic of %s: pass --topic", platform, path)
}

// YouzanClientID is the client_id of a Youzan push body, for signing it.
func YouzanClientID(body []byte) string {
	var p youzanPush
	_ = json.Unmarshal(body, &p)
	return p.ClientID
}
