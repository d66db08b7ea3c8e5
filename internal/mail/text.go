package mail

import (
	"strings"

	"golang.org/x/net/html"
)

// Text is the rendered email as plain text, for previews: what a reader
// sees, a line per block, links followed by their address in brackets.
// SendGrid builds the text part of a send itself (generate_plain_content),
// so this is a faithful reading of the HTML, not its byte-for-byte text.
func (r Rendered) Text() string {
	doc, err := html.Parse(strings.NewReader(r.HTML))
	if err != nil {
		// html.Parse fails only on a reader error; a string has none.
		return ""
	}
	var b strings.Builder
	writeText(&b, doc)
	lines := strings.Split(b.String(), "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue // one blank line between blocks at most
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// blockElements end a line of text.
var blockElements = map[string]bool{
	"p": true, "div": true, "table": true, "tr": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "ul": true, "ol": true, "li": true, "section": true,
	"header": true, "footer": true, "blockquote": true, "hr": true,
}

func writeText(b *strings.Builder, n *html.Node) {
	switch n.Type {
	case html.TextNode:
		// Line breaks in the source are spaces to a reader.
		b.WriteString(strings.NewReplacer("\r", " ", "\n", " ", "\t", " ").Replace(n.Data))
		return
	case html.ElementNode:
		switch n.Data {
		case "head", "style", "script", "title":
			return
		case "br":
			b.WriteString("\n")
			return
		case "img":
			if alt := attr(n, "alt"); alt != "" {
				b.WriteString("[" + alt + "]")
			}
			return
		}
		if hidden(n) {
			return
		}
	}
	block := n.Type == html.ElementNode && blockElements[n.Data]
	if block {
		b.WriteString("\n")
	}
	if n.Type == html.ElementNode && n.Data == "li" {
		b.WriteString("- ")
	}
	start := b.Len()
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeText(b, c)
	}
	if n.Type == html.ElementNode && n.Data == "a" {
		href := attr(n, "href")
		text := strings.TrimSpace(b.String()[start:])
		if href != "" && href != text && !strings.HasPrefix(href, "#") {
			b.WriteString(" (" + href + ")")
		}
	}
	if block {
		b.WriteString("\n")
	}
}

// hidden reports whether an element is styled out of view, like the
// preheader element, which inboxes show beside the subject, not in the
// body.
func hidden(n *html.Node) bool {
	style := strings.ReplaceAll(strings.ToLower(attr(n, "style")), " ", "")
	return strings.Contains(style, "display:none")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
