// Package ui is the gateway's HTTP face: the gin router with its security
// headers, the health and readiness probes, the metrics endpoint and the
// pages people see. Templates and static files are embedded, so the
// appliance serves everything itself, with no CDN and no build step.
//
// Protocol endpoints (WCTP, the JSON API) are mounted by the gateway onto
// the router this package builds; they are plain http.Handlers.
//
// # Caveats
//
//   - Pages are html/template only: message text is always rendered inert.
//   - The Content-Security-Policy forbids inline script; every script is a
//     file under static/.
package ui
