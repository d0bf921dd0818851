package ui

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Check is one readiness condition: nil when ready.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure the router.
type Options struct {
	// Ready lists what /readyz checks. /healthz only says the process
	// serves HTTP.
	Ready []Check
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// Status returns the facts shown on the status page.
	Status  func(ctx context.Context) Status
	Version string
	// Web, if set, is the staff web app, mounted under /app/.
	Web *Web
}

// Status is what the front page shows. None of it is PHI.
type Status struct {
	Hostname    string
	Version     string
	Started     time.Time
	Pages       uint64
	AuditHead   uint64
	DataDir     string
	Ready       bool
	ReadyDetail []string
	// Agents are the hardware agents heard from, with their devices.
	Agents []Agent
}

// Agent is one hardware agent as the status page shows it.
type Agent struct {
	ID, State, Version string
	Updated            time.Time
	Devices            []Device
}

// Device is one line of an agent: a modem, a paging terminal, a TAP line.
type Device struct {
	ID, Kind, State, Error string
	Since                  time.Time
	Queue                  int
	Done, Failed           uint64
	// Health is a modem's signal, registration, operator and SIM, in
	// words ("signal 20/31 · home · Pagebridge · SIM ready"); empty for
	// other devices.
	Health string
}

// New builds the router: security headers on every response, probes,
// metrics, static files and the status page.
func New(opts Options) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), securityHeaders)
	r.HandleMethodNotAllowed = true
	tmpl := template.Must(template.ParseFS(templateFS, "templates/*.html"))
	r.SetHTMLTemplate(tmpl)

	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/readyz", func(c *gin.Context) {
		if failed := ready(c.Request.Context(), opts.Ready); len(failed) > 0 {
			c.String(http.StatusServiceUnavailable, "not ready: %v\n", failed)
			return
		}
		c.String(http.StatusOK, "ready\n")
	})
	if opts.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opts.Metrics))
	}
	static, _ := fs.Sub(staticFS, "static")
	r.StaticFS("/static", http.FS(static))
	r.GET("/", func(c *gin.Context) {
		st := Status{Version: opts.Version}
		if opts.Status != nil {
			st = opts.Status(c.Request.Context())
		}
		st.ReadyDetail = ready(c.Request.Context(), opts.Ready)
		st.Ready = len(st.ReadyDetail) == 0
		c.HTML(http.StatusOK, "status.html", st)
	})
	if opts.Web != nil {
		opts.Web.Register(r)
	}
	return r
}

func ready(ctx context.Context, checks []Check) []string {
	var failed []string
	for _, ch := range checks {
		if err := ch.Check(ctx); err != nil {
			failed = append(failed, ch.Name+": "+err.Error())
		}
	}
	return failed
}

// ContentSecurityPolicy is every response's CSP: scripts, styles, images
// and connections (the WebSocket included: CSP 3 lets 'self' match wss:
// on the same host) from this origin only; no inline script or style, no
// plugins, no framing, no <base>, forms post only here. Images are 'self'
// only, without data: (the enrolment QR code is a PNG served from here).
// The service worker and the manifest come from here too.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"worker-src 'self'; manifest-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets what every response carries: a strict CSP with no
// inline script, no framing, no sniffing, HSTS, and no caching of anything
// that might hold PHI. The values are shared, read-only slices, so setting
// them allocates nothing per request.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	for _, kv := range securityHeaderValues {
		h[kv.key] = kv.value
	}
	c.Next()
}

var securityHeaderValues = func() []struct {
	key   string
	value []string
} {
	pairs := [][2]string{
		{"Content-Security-Policy", ContentSecurityPolicy},
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Referrer-Policy", "no-referrer"},
		{"Strict-Transport-Security", "max-age=31536000"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
		{"Cache-Control", "no-store"},
	}
	out := make([]struct {
		key   string
		value []string
	}, len(pairs))
	for i, p := range pairs {
		out[i].key = http.CanonicalHeaderKey(p[0])
		// Full slice expression: an Add elsewhere appends to a copy,
		// never into the shared array.
		out[i].value = []string{p[1]}[:1:1]
	}
	return out
}()
