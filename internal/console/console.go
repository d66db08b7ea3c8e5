// Package console serves the marketer console — the browser front end
// built from console/ by `make console` into dist/ — at /ui/. The build is
// embedded, so the api Lambda and `make run` serve the same files from one
// binary, with no second server. The console signs in and reads data
// through internal/api (/ui/session and /v1/); this package serves only
// its files.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/httpx"
)

// dist holds the build; dist/README keeps it non-empty before the first
// build so the package compiles, and then the handler answers 503.
//
//go:embed all:dist
var dist embed.FS

// Prefix is where the console is mounted.
const Prefix = "/ui"

// ContentSecurityPolicy allows only the console's own scripts and styles
// (no inline scripts, no CDN), inline style attributes (the chart and
// editor libraries set them), data: images, and no framing by other
// pages.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

// Cache policies: hashed assets never change under their name; index.html
// names the current ones and is revalidated on every load.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// NotBuilt is the 503 message when the build has no index.html.
const NotBuilt = "console not built: run make console"

// Handler serves the embedded build.
func Handler() http.Handler {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid name; "dist" is valid.
		panic(err)
	}
	return New(files)
}

// New serves the console from files, a build's root (index.html and
// assets/). Mount it at /ui/ and /ui: GET /ui, /ui/ and any path under
// /ui/ that names no file and no asset answer index.html, since the
// console routes with the URL's fragment (/ui/#/journeys/…).
func New(files fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			httpx.WriteError(w, http.StatusMethodNotAllowed, "method: the console's files answer GET and HEAD")
			return
		}
		index, err := fs.ReadFile(files, "index.html")
		if err != nil {
			h.Set("Cache-Control", "no-store")
			httpx.WriteError(w, http.StatusServiceUnavailable, NotBuilt)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		name = strings.TrimPrefix(path.Clean("/"+name), "/")
		if name == "" || name == "index.html" {
			serveIndex(w, r, index)
			return
		}
		if servable(name) {
			if body, err := fs.ReadFile(files, name); err == nil {
				cache := cacheRevalidate
				if strings.HasPrefix(name, "assets/") {
					cache = cacheImmutable
				}
				h.Set("Cache-Control", cache)
				http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
				return
			}
		}
		// A missing asset is a 404, not the page: a stale index naming
		// an old bundle must fail loudly, not run HTML as script.
		if name == "assets" || strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			h.Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		serveIndex(w, r, index)
	})
}

// servable reports whether a file of the build may be served: not
// dist/README (it keeps the directory in git) and no dot file such as
// the build stamp .built (go:embed all: takes those in too).
func servable(name string) bool {
	if name == "README" || !fs.ValidPath(name) {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// serveIndex answers index.html, revalidated by an ETag of its content.
func serveIndex(w http.ResponseWriter, r *http.Request, index []byte) {
	sum := sha256.Sum256(index)
	w.Header().Set("Cache-Control", cacheRevalidate)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
}

// Built reports whether the embedded build has its index.html, so a
// binary can say at start-up that the console will answer 503.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}
