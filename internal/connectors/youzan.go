package connectors

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/ingest"
)

// Youzan's push headers. Youzan Cloud's push guide
// (doc.youzanyun.com/resource/develop-guide/41355/41536, as quoted by
// github.com/cuncle/youzanyun-push-demo) signs each push with
// Event-Sign = hex MD5(client_id + raw body + client_secret); the message
// type is in Event-Type (and the body's "type"), the app's client_id in
// Client-Id (and the body's "client_id"). The body's own "sign" field,
// MD5(client_id + msg + client_secret), is documented as not recommended in
// favour of Event-Sign, so it is not checked.
const (
	YouzanHeaderSign     = "Event-Sign"
	YouzanHeaderType     = "Event-Type"
	YouzanHeaderClientID = "Client-Id"
)

// youzanAck is the body that acknowledges a push. Youzan reads a push as
// received only from this body (with HTTP 200) and pushes it again
// otherwise; memberflow sends it for every push it recorded, had recorded
// before or does not map, and answers a refused push (bad signature,
// payload or refund before its order) with its usual error, which Youzan
// retries. Source: the push receivers written against Youzan's push
// guide (open.youzan.com/docs/server#424, "消息推送") all answer
// {"code":0,"msg":"success"} — e.g. huang-ding/api-youzan
// YouZanNotifyController and a zengshi YouzanOrderController citing that
// page — while cuncle/youzanyun-push-demo's {"code":"200"} is a demo's
// own; the guide itself (doc.youzanyun.com/resource/develop-guide/41355/41536)
// was not reachable to quote.
var youzanAck = struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}{0, "success"}

// youzanZone is the zone of Youzan's "yyyy-MM-dd HH:mm:ss" times.
var youzanZone = time.FixedZone("CST", 8*3600)

type youzanPlatform struct{}

// youzanPush is the push envelope; msg is URL-encoded JSON.
type youzanPush struct {
	ClientID string `json:"client_id"`
	ID       string `json:"id"`
	MsgID    string `json:"msg_id"`
	Msg      string `json:"msg"`
	Type     string `json:"type"`
	Test     bool   `json:"test"`
}

// clientIDOf is the client_id the signature covers: the Client-Id
// header, else the body's client_id (read before the signature is
// checked, for this only).
func clientIDOf(h http.Header, body []byte) string {
	if v := h.Get(YouzanHeaderClientID); v != "" {
		return v
	}
	var p youzanPush
	_ = json.Unmarshal(body, &p)
	return p.ClientID
}

// SignYouzan is the Event-Sign of body: hex MD5(client_id + body + client_secret).
func SignYouzan(clientID string, secret, body []byte) string {
	sum := md5.Sum(append(append([]byte(clientID), body...), secret...))
	return hex.EncodeToString(sum[:])
}

func (youzanPlatform) verify(secret []byte, h http.Header, body []byte) error {
	v := strings.ToLower(h.Get(YouzanHeaderSign))
	if v == "" {
		return fmt.Errorf("invalid signature: %s header is missing", YouzanHeaderSign)
	}
	want := SignYouzan(clientIDOf(h, body), secret, body)
	if subtle.ConstantTimeCompare([]byte(v), []byte(want)) != 1 {
		return fmt.Errorf("invalid signature: %s does not match the body", YouzanHeaderSign)
	}
	return nil
}

// deliveryID is the push's msg_id, Youzan's id of one message (the body's
// "id" is the trade's).
func (youzanPlatform) deliveryID(_ http.Header, body []byte) (string, string) {
	var p youzanPush
	_ = json.Unmarshal(body, &p)
	return p.MsgID, "msg_id"
}

func (youzanPlatform) acknowledge(a ingest.Answer) ingest.Answer {
	if a.Status >= 300 {
		return a
	}
	return ingest.Answer{Status: http.StatusOK, Body: youzanAck}
}

func (youzanPlatform) topic(h http.Header, body []byte) string {
	if v := h.Get(YouzanHeaderType); v != "" {
		return v
	}
	var p youzanPush
	_ = json.Unmarshal(body, &p)
	return p.Type
}

type youzanTradePaid struct {
	FullOrderInfo struct {
		OrderInfo struct {
			Tid     string `json:"tid"`
			PayTime string `json:"pay_time"`
		} `json:"order_info"`
		BuyerInfo struct {
			YzOpenID string `json:"yz_open_id"`
		} `json:"buyer_info"`
		Orders []struct {
			Oid        json.Number `json:"oid"`
			OuterSkuID string      `json:"outer_sku_id"`
			Title      string      `json:"title"`
			Num        int         `json:"num"`
			Payment    string      `json:"payment"`
		} `json:"orders"`
	} `json:"full_order_info"`
}

type youzanRefund struct {
	Tid         string `json:"tid"`
	RefundID    string `json:"refund_id"`
	RefundedFee string `json:"refunded_fee"`
	UpdateTime  string `json:"update_time"`
}

func youzanOrderEventID(tid string) string { return "youzan.trade." + tid + ".paid" }

func youzanTime(field, s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, youzanZone)
	if err != nil {
		return time.Time{}, bad(field, "must be a time like \"2026-03-02 14:05:10\"")
	}
	return t, nil
}

func (youzanPlatform) mapDelivery(ctx context.Context, d delivery) ([]event, string, error) {
	if d.topic != "trade_TradePaid" && d.topic != "trade_refund_RefundSuccess" {
		return nil, "topic not mapped", nil
	}
	var p youzanPush
	if err := json.Unmarshal(d.body, &p); err != nil {
		return nil, "", bad("body", "must be a Youzan push object: "+err.Error())
	}
	if p.Test {
		return nil, "test message", nil
	}
	msg, err := url.QueryUnescape(p.Msg)
	if err != nil {
		return nil, "", bad("msg", "must be URL-encoded JSON")
	}
	if d.topic == "trade_refund_RefundSuccess" {
		var rf youzanRefund
		if err := json.Unmarshal([]byte(msg), &rf); err != nil {
			return nil, "", bad("msg", "must be a refund message: "+err.Error())
		}
		return youzanRefunded(ctx, d, rf)
	}
	var tp youzanTradePaid
	if err := json.Unmarshal([]byte(msg), &tp); err != nil {
		return nil, "", bad("msg", "must be a trade message: "+err.Error())
	}
	fo := tp.FullOrderInfo
	tid, err := checkID("msg.full_order_info.order_info.tid", fo.OrderInfo.Tid)
	if err != nil {
		return nil, "", err
	}
	if fo.BuyerInfo.YzOpenID == "" {
		return nil, "no buyer to link to a member", nil
	}
	buyer, err := checkID("msg.full_order_info.buyer_info.yz_open_id", fo.BuyerInfo.YzOpenID)
	if err != nil {
		return nil, "", err
	}
	at, err := youzanTime("msg.full_order_info.order_info.pay_time", fo.OrderInfo.PayTime)
	if err != nil {
		return nil, "", err
	}
	if len(fo.Orders) == 0 {
		return nil, "", bad("msg.full_order_info.orders", "must have at least one line")
	}
	// Youzan shops trade in CNY; each line's payment is what was paid
	// for it after promotions, so there is no order-level discount and
	// postage earns nothing.
	data := events.OrderPaidData{OrderID: tid, Currency: "CNY"}
	for i, l := range fo.Orders {
		ln, err := line(fmt.Sprintf("msg.full_order_info.orders[%d]", i), "payment", "num", text(l.OuterSkuID, "youzan-line-"+l.Oid.String()), "uncategorized", l.Num, l.Payment)
		if err != nil {
			return nil, "", err
		}
		data.Amount = data.Amount.Add(ln.Amount)
		data.Lines = append(data.Lines, ln)
	}
	data.Payments = []events.Payment{{Method: events.PaymentCard, Amount: data.Amount}}
	return []event{{ID: youzanOrderEventID(tid), Type: string(events.OrderPaid), OccurredAt: at, MemberID: Youzan + "-" + buyer, Data: data}}, "", nil
}

// youzanRefunded maps trade_refund_RefundSuccess. Its message names the
// refunded lines (oids) but not each line's share, so the refund is by
// amount; the member is the one of the trade's recorded order.paid.
func youzanRefunded(ctx context.Context, d delivery, rf youzanRefund) ([]event, string, error) {
	tid, err := checkID("msg.tid", rf.Tid)
	if err != nil {
		return nil, "", err
	}
	refundID, err := checkID("msg.refund_id", rf.RefundID)
	if err != nil {
		return nil, "", err
	}
	amount, err := money("msg.refunded_fee", rf.RefundedFee)
	if err != nil {
		return nil, "", err
	}
	at, err := youzanTime("msg.update_time", rf.UpdateTime)
	if err != nil {
		return nil, "", err
	}
	member, ok, err := d.orderMember(ctx, youzanOrderEventID(tid))
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("%w: refund %s is of trade %s", errOrderUnknown, refundID, tid)
	}
	return []event{{ID: "youzan.refund." + refundID, Type: string(events.OrderRefunded), OccurredAt: at, MemberID: member,
		Data: events.OrderRefundedData{OrderID: tid, RefundID: refundID, Amount: amount, Currency: "CNY"}}}, "", nil
}
