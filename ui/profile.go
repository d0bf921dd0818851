package ui

import (
	"bytes"
	"errors"
	"image"
	_ "image/jpeg" // decoders for the photo check
	_ "image/png"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
)

// The profile: photo, presence and forwarding, notification preferences,
// password. An account flagged must-change-password reaches nothing but
// the password form until it has changed it.

// Limits of the profile.
const (
	// MaxPhotoBytes bounds an uploaded photo (the store refuses more).
	MaxPhotoBytes = 512 << 10
	// MaxPhotoSide bounds a photo's width and height in pixels.
	MaxPhotoSide = 2048
	// MinPasswordLen is the shortest new password taken.
	MinPasswordLen = 12
	maxPasswordLen = 256
	maxNoteLen     = 200
)

// photoTypes are the photo formats taken, by what the bytes decode as
// (the upload's own content type is not trusted).
var photoTypes = map[string]string{"png": "image/png", "jpeg": "image/jpeg"}

func (w *Web) registerProfile(r *gin.Engine, any, g *gin.RouterGroup) {
	any.GET("/profile/password", w.passwordPage)
	any.POST("/profile/password", w.changePassword)
	g.GET("/profile", w.profilePage)
	g.POST("/profile/presence", w.setPresence)
	g.POST("/profile/preferences", w.setPreferences)
	g.GET("/profile/preferences.json", w.preferencesJSON)
	// The photo's body is bounded before the session's CSRF check parses
	// the form.
	r.POST("/app/profile/photo", limitBody(MaxPhotoBytes+64<<10), w.session(false), w.setPhoto)
	g.GET("/people/:person/photo", w.photo)
}

// limitBody refuses a body over max bytes: at once by its length, or
// when reading it passes max.
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "too large"})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// mustChangePassword sends a session whose account must change its
// password to the password form (and refuses anything else); it reports
// whether it did.
func (w *Web) mustChangePassword(c *gin.Context, s Session) bool {
	if w.opts.Profiles == nil {
		return false
	}
	must, err := w.opts.Profiles.MustChangePassword(c.Request.Context(), s.Username)
	if err != nil {
		w.log.Error("must-change-password check", "err", err)
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return true
	}
	if !must {
		return false
	}
	if c.Request.Method == http.MethodGet && !strings.HasSuffix(c.Request.URL.Path, ".json") && !strings.HasSuffix(c.Request.URL.Path, "/ws") {
		c.Redirect(http.StatusSeeOther, "/app/profile/password")
		c.Abort()
		return true
	}
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "change your password first"})
	return true
}

func (w *Web) profilePage(c *gin.Context) {
	w.showProfile(c, http.StatusOK, "", c.Query("saved"))
}

// profileNotices are what ?saved= shows.
var profileNotices = map[string]string{
	"presence": "Presence saved.", "preferences": "Notification preferences saved.", "photo": "Photo saved.",
	"nophoto": "Photo removed.", "password": "Password changed.",
}

func (w *Web) showProfile(c *gin.Context, status int, msg, saved string) {
	s := sessionOf(c)
	v, err := w.opts.Profiles.Profile(c.Request.Context(), callerOf(s))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, status, "profile.html", page{Title: "Profile", Page: "profile", Session: &s, Error: msg, Notice: profileNotices[saved],
		Data: map[string]any{"Profile": v, "States": PresenceStates, "Initial": initial(v.Name)}})
}

func (w *Web) setPresence(c *gin.Context) {
	s := sessionOf(c)
	u := ProfileUpdate{Presence: c.PostForm("presence"), Forward: c.PostForm("forward"), Note: strings.TrimSpace(c.PostForm("note"))}
	if !slices.Contains(PresenceStates, u.Presence) {
		w.showProfile(c, http.StatusBadRequest, "Choose a presence.", "")
		return
	}
	if len(u.Note) > maxNoteLen {
		w.showProfile(c, http.StatusBadRequest, "The note is too long.", "")
		return
	}
	if v := c.PostForm("until"); v != "" {
		// A datetime-local field: the browser's wall time, with the
		// offset the page added (tz, minutes east of UTC).
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			w.showProfile(c, http.StatusBadRequest, "The end time is not a date and time.", "")
			return
		}
		off := 0
		if tz := c.PostForm("tz"); tz != "" {
			if n, err := strconv.Atoi(tz); err == nil && n >= -14*60 && n <= 14*60 {
				off = n
			}
		}
		u.Until = t.Add(-time.Duration(off) * time.Minute).UTC()
		if !u.Until.After(time.Now()) {
			w.showProfile(c, http.StatusBadRequest, "The end time has passed.", "")
			return
		}
	}
	if err := w.opts.Profiles.SetPresence(c.Request.Context(), callerOf(s), u); err != nil {
		if errors.Is(err, paging.ErrInvalid) || errors.Is(err, paging.ErrNotFound) {
			w.showProfile(c, http.StatusBadRequest, userError(err), "")
			return
		}
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/profile?saved=presence")
}

func (w *Web) setPreferences(c *gin.Context) {
	s := sessionOf(c)
	mute, noVibrate := c.PostForm("sound") != "on", c.PostForm("vibrate") != "on"
	if err := w.opts.Profiles.SetPreferences(c.Request.Context(), callerOf(s), mute, noVibrate); err != nil {
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/profile?saved=preferences")
}

// preferencesJSON is what the page's notifications follow.
func (w *Web) preferencesJSON(c *gin.Context) {
	s := sessionOf(c)
	v, err := w.opts.Profiles.Profile(c.Request.Context(), callerOf(s))
	if err != nil {
		w.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"sound": !v.Mute, "vibrate": !v.NoVibrate})
}

// checkPhoto decodes an upload's header: a PNG or JPEG of at most
// MaxPhotoSide pixels a side, whatever the browser called it.
func checkPhoto(b []byte) (string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", errors.New("the photo is not a PNG or JPEG image")
	}
	typ, ok := photoTypes[format]
	if !ok {
		return "", errors.New("the photo is not a PNG or JPEG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return "", errors.New("the photo is larger than 2048 × 2048 pixels")
	}
	return typ, nil
}

func (w *Web) setPhoto(c *gin.Context) {
	s := sessionOf(c)
	if c.PostForm("remove") == "1" {
		if err := w.opts.Profiles.SetPhoto(c.Request.Context(), callerOf(s), "", nil); err != nil {
			w.fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/app/profile?saved=nophoto")
		return
	}
	fh, err := c.FormFile("photo")
	if err != nil {
		w.showProfile(c, http.StatusBadRequest, "Choose a photo of at most 512 KiB.", "")
		return
	}
	if fh.Size > MaxPhotoBytes {
		w.showProfile(c, http.StatusRequestEntityTooLarge, "The photo is larger than 512 KiB.", "")
		return
	}
	f, err := fh.Open()
	if err != nil {
		w.fail(c, err)
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxPhotoBytes+1))
	f.Close()
	if err != nil || len(b) > MaxPhotoBytes {
		w.showProfile(c, http.StatusBadRequest, "The photo could not be read, or is larger than 512 KiB.", "")
		return
	}
	typ, err := checkPhoto(b)
	if err != nil {
		w.showProfile(c, http.StatusUnsupportedMediaType, err.Error()+".", "")
		return
	}
	if err := w.opts.Profiles.SetPhoto(c.Request.Context(), callerOf(s), typ, b); err != nil {
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/profile?saved=photo")
}

// photo serves a person's photo to any signed-in member of staff.
func (w *Web) photo(c *gin.Context) {
	typ, b, err := w.opts.Profiles.Photo(c.Request.Context(), c.Param("person"))
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Header("Content-Disposition", "inline")
	c.Data(http.StatusOK, typ, b)
}

// Password.

func (w *Web) passwordPage(c *gin.Context) {
	w.showPassword(c, http.StatusOK, "")
}

func (w *Web) showPassword(c *gin.Context, status int, msg string) {
	s := sessionOf(c)
	must, err := w.opts.Profiles.MustChangePassword(c.Request.Context(), s.Username)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, status, "password.html", page{Title: "Change password", Page: "password", Session: &s, Error: msg,
		Data: map[string]any{"Must": must, "Min": MinPasswordLen}})
}

func (w *Web) changePassword(c *gin.Context) {
	s := sessionOf(c)
	ctx := c.Request.Context()
	cur, next, again := c.PostForm("current"), c.PostForm("new"), c.PostForm("again")
	switch {
	case len(next) < MinPasswordLen || len(next) > maxPasswordLen:
		w.showPassword(c, http.StatusBadRequest, "The new password must have 12 to 256 characters.")
		return
	case next != again:
		w.showPassword(c, http.StatusBadRequest, "The two new passwords differ.")
		return
	case next == cur:
		w.showPassword(c, http.StatusBadRequest, "The new password is the current one.")
		return
	}
	if !w.auth.limit.allow("password:"+s.Username, w.auth.pol.AccountAttempts, w.auth.pol.RateWindow, w.auth.now()) {
		w.showPassword(c, http.StatusTooManyRequests, ErrThrottled.Error())
		return
	}
	acc, err := w.auth.acc.Account(ctx, s.Username)
	if err != nil {
		w.fail(c, err)
		return
	}
	ok, err := argon2id.ComparePasswordAndHash(cur, acc.PasswordHash)
	if err != nil || !ok {
		w.showPassword(c, http.StatusUnauthorized, "The current password is wrong.")
		return
	}
	hash, err := argon2id.CreateHash(next, argon2id.DefaultParams)
	if err != nil {
		w.fail(c, err)
		return
	}
	if err := w.opts.Profiles.SetPassword(ctx, callerOf(s), s.Username, hash); err != nil {
		w.fail(c, err)
		return
	}
	token, ns, ended, err := w.auth.PasswordChanged(ctx, s)
	if err != nil {
		w.fail(c, err)
		return
	}
	others := make([]Session, 0, len(ended))
	for _, e := range ended {
		if e.ID != s.ID { // this page is on its way to the new session
			others = append(others, e)
		}
	}
	w.endPages(others, "password changed")
	setCookie(c, sessionCookie, token, 0)
	w.log.Info("password changed; other sessions ended", "session", ns.ID, "username", s.Username, "ended", len(others))
	if s.Enrol {
		c.Redirect(http.StatusSeeOther, "/app/mfa")
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/profile?saved=password")
}

// initial is the initials of a name, titles left out ("Dr Amara Okafor"
// → "AO"), for an avatar without a photo.
func initial(name string) string {
	var out []string
	for _, w := range strings.Fields(name) {
		if t := strings.ToLower(strings.TrimSuffix(w, ".")); t == "dr" || t == "prof" {
			continue
		}
		for _, r := range w {
			out = append(out, strings.ToUpper(string(r)))
			break
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return strings.Join(out, "")
}
