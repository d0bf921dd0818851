package ui

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// The app on a phone: a web app manifest, a service worker that keeps the
// app shell (styles, scripts, icons, the offline page) and nothing else,
// and the offline page. None of them needs a session, and none carries
// PHI. The service worker is served from /app/ so that its scope is the
// app.

// ShellCache names the service worker's one cache (sw.js says the same);
// a new shell gets a new name, and the old cache is deleted.
const ShellCache = "pagebridge-shell-v1"

func (w *Web) registerPWA(r *gin.Engine) {
	serve := func(path, file, typ string) {
		r.GET(path, func(c *gin.Context) {
			b, err := staticFS.ReadFile("static/" + file)
			if err != nil {
				c.AbortWithStatus(http.StatusNotFound)
				return
			}
			c.Data(http.StatusOK, typ, b)
		})
	}
	serve("/app/manifest.webmanifest", "manifest.webmanifest", "application/manifest+json")
	serve("/app/sw.js", "sw.js", "text/javascript; charset=utf-8")
	r.GET("/app/offline", func(c *gin.Context) {
		w.render(c, http.StatusOK, "offline.html", page{Title: "Offline", Page: "offline"})
	})
}
