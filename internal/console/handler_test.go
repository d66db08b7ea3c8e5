package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/memberflow/memberflow/internal/console"
)

const indexHTML = `<!doctype html><html><head><script type="module" src="assets/app-ABC123.js"></script></head><body></body></html>`

func built() fstest.MapFS {
	return fstest.MapFS{
		"index.html":            {Data: []byte(indexHTML)},
		"assets/app-ABC123.js":  {Data: []byte(`console.log("app")`)},
		"assets/app-DEF456.css": {Data: []byte(`body{margin:0}`)},
		"favicon.svg":           {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"README":                {Data: []byte("Built by make console")},
		".built":                {Data: []byte("stamp of make console")},
		"assets/.hidden":        {Data: []byte("a dot file")},
	}
}

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func checkSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestServesIndexForEveryPageRoute(t *testing.T) {
	h := console.New(built())
	for _, p := range []string{"/ui", "/ui/", "/ui/index.html", "/ui/journeys", "/ui/members/m-1", "/ui/../ui/x"} {
		t.Run(p, func(t *testing.T) {
			rec := serve(h, http.MethodGet, p)
			if rec.Code != http.StatusOK || rec.Body.String() != indexHTML {
				t.Fatalf("GET %s = %d %q, want index.html", p, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			checkSecurityHeaders(t, rec)
		})
	}
}

func TestIndexRevalidates(t *testing.T) {
	h := console.New(built())
	etag := serve(h, http.MethodGet, "/ui/").Header().Get("ETag")
	if etag == "" {
		t.Fatal("index.html has no ETag")
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation = %d, want 304", rec.Code)
	}
	other := built()
	other["index.html"] = &fstest.MapFile{Data: []byte(strings.Replace(indexHTML, "ABC123", "XYZ789", 1))}
	if got := serve(console.New(other), http.MethodGet, "/ui/").Header().Get("ETag"); got == etag {
		t.Error("a new build's index.html has the old ETag")
	}
}

func TestServesAssets(t *testing.T) {
	h := console.New(built())
	for _, tc := range []struct{ path, body, typ, cache string }{
		{"/ui/assets/app-ABC123.js", `console.log("app")`, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/ui/assets/app-DEF456.css", `body{margin:0}`, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/ui/favicon.svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`, "image/svg+xml", "no-cache"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tc.path)
			if rec.Code != http.StatusOK || rec.Body.String() != tc.body {
				t.Fatalf("GET = %d %q, want %q", rec.Code, rec.Body, tc.body)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.typ {
				t.Errorf("Content-Type = %q, want %q", got, tc.typ)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			checkSecurityHeaders(t, rec)
		})
	}
	if rec := serve(h, http.MethodHead, "/ui/assets/app-ABC123.js"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes, want 200 without a body", rec.Code, rec.Body.Len())
	}
}

func TestMissingAssetIs404(t *testing.T) {
	h := console.New(built())
	for _, p := range []string{"/ui/assets/app-OLD.js", "/ui/assets/", "/ui/missing.png"} {
		rec := serve(h, http.MethodGet, p)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d %q, want 404", p, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("GET %s answered the page", p)
		}
		if rec.Header().Get("Cache-Control") == "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: a 404 is cached for a year", p)
		}
	}
}

// TestREADMEIsNotServed: dist/README only keeps the directory in git.
func TestREADMEIsNotServed(t *testing.T) {
	rec := serve(console.New(built()), http.MethodGet, "/ui/README")
	if strings.Contains(rec.Body.String(), "Built by make console") {
		t.Errorf("GET /ui/README = %d %q, served the README", rec.Code, rec.Body)
	}
}

// TestDotFilesAreNotServed: the build stamp infra/local/console.sh
// leaves in dist/ (and any other dot file go:embed all: takes in) is not
// part of the console.
func TestDotFilesAreNotServed(t *testing.T) {
	for _, p := range []string{"/ui/.built", "/ui/assets/.hidden", "/ui/./.built"} {
		rec := serve(console.New(built()), http.MethodGet, p)
		if b := rec.Body.String(); strings.Contains(b, "stamp of make console") || strings.Contains(b, "a dot file") || rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d %q, want 404 without the file", p, rec.Code, b)
		}
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	rec := serve(console.New(built()), http.MethodPost, "/ui/")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d (Allow %q), want 405", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestNotBuilt(t *testing.T) {
	h := console.New(fstest.MapFS{"README": {Data: []byte("Built by make console")}})
	for _, p := range []string{"/ui", "/ui/", "/ui/assets/app-ABC123.js"} {
		rec := serve(h, http.MethodGet, p)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "console not built: run make console") {
			t.Errorf("GET %s = %d %s, want 503 naming make console", p, rec.Code, rec.Body)
		}
		checkSecurityHeaders(t, rec)
	}
}

// TestEmbeddedBuild: the embedded build answers whichever state it is in —
// the page when `make console` ran, 503 when not — never a 404 or a panic.
func TestEmbeddedBuild(t *testing.T) {
	rec := serve(console.Handler(), http.MethodGet, "/ui/")
	switch {
	case console.Built() && rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), "<"):
	case !console.Built() && rec.Code == http.StatusServiceUnavailable:
	default:
		t.Errorf("embedded build (built %v) answered %d %q", console.Built(), rec.Code, rec.Body)
	}
}
