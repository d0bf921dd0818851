package main

// Attachments in a real browser: a clinician attaches a photo to a reply
// (a file input, a multipart form post), sees its preview in the thread,
// and a colleague with the thread open sees the same preview arrive live,
// with no reload, the image served from this origin as image/png.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestWebAttachmentInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := newChromium(t)
	root := t.TempDir()
	d := startDemo(t, root)
	logins := demoLoginsOf(t, root)

	photo := filepath.Join(t.TempDir(), "wound photo.png")
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{R: uint8(6 * x), G: 90, B: uint8(8 * y), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	amara := newTab(t, browser)
	amara.signIn(d, "amara.okafor", logins.Password, "")
	sofia := newTab(t, browser)
	sofia.signIn(d, "sofia.reyes", logins.Password, "")

	// Amara writes to Sofia; Sofia opens the thread and keeps it open.
	amara.run("compose to Sofia",
		chromedp.Navigate(d.url("/app/compose")),
		waitVisible("#compose-form"),
		setValue("#to", "person:sofia.reyes"),
		sendKeys("#text", "Please look at the wound on bed 14"),
		click("#send"),
		waitVisible("#reply-form"),
	)
	thread := eval[string](amara, `document.body.dataset.thread`)
	sofia.run("open the thread", chromedp.Navigate(d.url("/app/threads/"+thread)), waitVisible("#messages li.msg"), waitVisible("#live.on"))
	eval[string](sofia, `window.pbMarker = 'no reload'`)
	sofia.reset()

	// Amara replies with the photo and sees its preview.
	amara.run("reply with a photo",
		chromedp.SetUploadFiles(chromedp.CSS("#reply-file"), []string{photo}),
		sendKeys("#reply-text", "photo attached"),
		click("#reply"),
		waitVisible("#messages img.preview"),
		imageDecoded("#messages img.preview", 40),
	)
	if name := eval[string](amara, `document.querySelector('#messages a.file').textContent`); name != "wound photo.png" {
		t.Errorf("file shown as %q", name)
	}

	// Sofia's open thread shows it without a reload, carried by a frame.
	sofia.run("the photo arrives live",
		waitVisible("#messages img.preview"),
		imageDecoded("#messages img.preview", 40),
	)
	if marker := eval[string](sofia, `window.pbMarker`); marker != "no reload" {
		t.Error("Sofia's page was reloaded")
	}
	frames, _ := sofia.seen()
	if !slices.ContainsFunc(frames, func(f string) bool { return strings.Contains(f, `"type":"thread"`) && strings.Contains(f, thread) }) {
		t.Errorf("no thread frame reached Sofia's page: %q", frames)
	}
	ctx, cancel := context.WithTimeout(sofia.ctx, time.Minute)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('#messages img.preview').src).then(r =>
		[r.status, r.headers.get('content-type'), r.headers.get('x-content-type-options'), r.headers.get('content-disposition')].join(' | '))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := `200 | image/png | nosniff | inline; filename="wound photo.png"`; got != want {
		t.Errorf("the photo is served as %q, want %q", got, want)
	}
}

// imageDecoded waits until the image at sel is decoded, width wide.
func imageDecoded(sel string, width int) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](fmt.Sprintf(`(document.querySelector(%q) || {}).naturalWidth === %d`, sel, width))(ctx, t)
		return err
	})
}
