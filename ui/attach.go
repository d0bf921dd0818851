package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
)

// Attachments and search: the Files port and its pages.
//
//	POST /app/threads/:id/reply                 multipart: text, file…
//	POST /app/compose                           multipart: …, file…
//	GET  /app/threads/:id/messages/:msg/files/:n   the file (members; audited)
//	GET  /app/search, POST /app/search          search in one's own threads
//
// An upload is read into memory only: every state-changing request's body
// is cut at WebOptions.MaxUpload before anything parses it, and the
// router's multipart memory is at least that, so no part spills to a
// temporary file. A search is a POST, so the query (which may be PHI)
// is in no URL, history or access log.

// Upload is a file a member attaches, as the browser sent it.
type Upload struct {
	Name string
	Data []byte
}

// Attachment describes a file of a message. Its name is PHI; it is shown
// to members after an audited read, as the text is.
type Attachment struct {
	Thread  paging.ID
	Message paging.ID
	N       int
	Name    paging.PHI
	// Type is the media type found in its bytes when it was stored.
	Type string
	Size int64
	// Inline: an image the page may show (never SVG); everything else is
	// downloaded.
	Inline bool
}

// URL is where the file is served.
func (a Attachment) URL() string {
	return fmt.Sprintf("/app/threads/%s/messages/%s/files/%d", a.Thread, a.Message, a.N)
}

// SizeText is the size for people ("12 KB").
func (a Attachment) SizeText() string {
	switch {
	case a.Size >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(a.Size)/(1<<20))
	case a.Size >= 1<<10:
		return fmt.Sprintf("%d KB", a.Size>>10)
	}
	return fmt.Sprintf("%d bytes", a.Size)
}

// MarshalJSON gives a page what it renders: the URL included.
func (a Attachment) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		URL    string `json:"url"`
		Name   string `json:"name"`
		Type   string `json:"type"`
		Size   string `json:"size"`
		Inline bool   `json:"inline"`
	}{a.URL(), a.Name.Reveal(), a.Type, a.SizeText(), a.Inline})
}

// SearchHit is a message that matched a search, in a thread of the
// caller's.
type SearchHit struct {
	Thread     paging.ID
	Label      string
	Priority   paging.Priority
	Message    paging.ID
	At         time.Time
	AuthorName string
	// Subject: the thread's subject matched.
	Subject bool
	Text    paging.PHI
}

// SearchResult is what a search found and how far it looked.
type SearchResult struct {
	Hits              []SearchHit
	Threads, Messages int
	// More: there was more to look through than a search does.
	More bool
}

// Files is the attachments and search side of the web app. Errors as
// Messaging's: ErrForbidden, paging.ErrNotFound, paging.ErrInvalid (its
// text shown to the user, no PHI in it).
type Files interface {
	// ReplyWithFiles posts a reply carrying files (the text may be
	// empty then).
	ReplyWithFiles(ctx context.Context, as Caller, thread paging.ID, text paging.PHI, files []Upload) error
	// Attachment reads a file for a member of its thread (audited).
	Attachment(ctx context.Context, as Caller, thread, message paging.ID, n int) (Attachment, []byte, error)
	// Search looks for query in the caller's own threads (audited, the
	// query left out).
	Search(ctx context.Context, as Caller, query string) (SearchResult, error)
}

// DefaultMaxUpload bounds a request's body: a message's files together,
// with the form around them.
const DefaultMaxUpload = 10<<20 + 64<<10

// maxUpload is the request body limit in force.
func (w *Web) maxUpload() int64 {
	if w.opts.MaxUpload > 0 {
		return w.opts.MaxUpload
	}
	return DefaultMaxUpload
}

// limitBody cuts a state-changing request's body at the upload limit
// before anything reads it; one that says it is larger is refused at
// once (413).
func (w *Web) limitBody(c *gin.Context) bool {
	if !unsafeMethod(c.Request.Method) {
		return true
	}
	if c.Request.ContentLength > w.maxUpload() {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge,
			gin.H{"error": fmt.Sprintf("too large: files of a message may be %s together", Attachment{Size: w.maxUpload()}.SizeText())})
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, w.maxUpload())
	return true
}

// registerFiles mounts the file and search routes on the session group g
// and keeps multipart parsing in memory.
func (w *Web) registerFiles(r *gin.Engine, g *gin.RouterGroup) {
	r.MaxMultipartMemory = max(r.MaxMultipartMemory, w.maxUpload()+1<<20)
	if w.files == nil {
		return
	}
	g.GET("/threads/:id/messages/:msg/files/:n", withThread(w.download))
	g.GET("/search", w.searchPage)
	g.POST("/search", w.search)
}

// uploads returns the files of a multipart form (none for another form);
// ok false if it answered the request itself (too large, unreadable).
func (w *Web) uploads(c *gin.Context) ([]Upload, bool) {
	form, err := c.MultipartForm()
	if errors.Is(err, http.ErrNotMultipart) {
		return nil, true
	}
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "too large"})
		} else {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "the form could not be read"})
		}
		return nil, false
	}
	var out []Upload
	for _, fh := range form.File["file"] {
		if fh.Size == 0 && fh.Filename == "" {
			continue // the empty file input of a form sent without a file
		}
		data, err := readPart(fh)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "the file could not be read"})
			return nil, false
		}
		out = append(out, Upload{Name: fh.Filename, Data: data})
	}
	return out, true
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// postReply is the reply form: text, files, or both.
func (w *Web) postReply(c *gin.Context, s Session, id paging.ID) {
	files, ok := w.uploads(c)
	if !ok {
		return
	}
	text := c.PostForm("text")
	back := "/app/threads/" + id.String()
	var err error
	switch {
	case len(files) > 0 && w.files != nil:
		err = w.files.ReplyWithFiles(c.Request.Context(), callerOf(s), id, paging.NewPHI(text), files)
	case len(files) > 0:
		err = fmt.Errorf("%w: attachments are not available here", paging.ErrInvalid)
	case strings.TrimSpace(text) == "":
		c.Redirect(http.StatusSeeOther, back)
		return
	default:
		err = w.msg.Reply(c.Request.Context(), callerOf(s), id, paging.NewPHI(text))
	}
	if errors.Is(err, paging.ErrInvalid) {
		// Show the thread again with why (a file too large, a type not
		// allowed): the text holds no PHI.
		v, ok := w.readThread(c, s, id)
		if !ok {
			return
		}
		w.render(c, http.StatusBadRequest, "thread.html", page{Title: v.Label, Page: "thread", Session: &s, Thread: id.String(),
			Error: userError(err), Data: v})
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, back)
}

// download serves a file to a member: its stored type, never sniffed by
// the browser; inline only for the images a page shows, an attachment
// otherwise; in a sandbox with nothing allowed, and not cached.
func (w *Web) download(c *gin.Context, s Session, id paging.ID) {
	msg, err1 := paging.ParseID(c.Param("msg"))
	n, err2 := strconv.Atoi(c.Param("n"))
	if err1 != nil || err2 != nil || n < 0 || n > 255 {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not found"})
		return
	}
	a, data, err := w.files.Attachment(c.Request.Context(), callerOf(s), id, msg, n)
	if err != nil {
		w.fail(c, err)
		return
	}
	h := c.Writer.Header()
	typ := a.Type
	if typ == "text/plain" {
		typ += "; charset=utf-8"
	}
	disposition := "attachment"
	if a.Inline {
		disposition = "inline"
	}
	cd := mime.FormatMediaType(disposition, map[string]string{"filename": a.Name.Reveal()})
	if cd == "" {
		cd = disposition
	}
	h.Set("Content-Disposition", cd)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, typ, data)
}

// Search.

type searchData struct {
	Query  string
	Result *SearchResult
}

func (w *Web) searchPage(c *gin.Context) {
	s := sessionOf(c)
	w.render(c, http.StatusOK, "search.html", page{Title: "Search", Page: "search", Session: &s, Data: searchData{}})
}

func (w *Web) search(c *gin.Context) {
	s := sessionOf(c)
	q := c.PostForm("q")
	res, err := w.files.Search(c.Request.Context(), callerOf(s), q)
	if errors.Is(err, paging.ErrInvalid) {
		w.render(c, http.StatusBadRequest, "search.html", page{Title: "Search", Page: "search", Session: &s, Error: userError(err),
			Data: searchData{Query: q}})
		return
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, "search.html", page{Title: "Search", Page: "search", Session: &s, Data: searchData{Query: q, Result: &res}})
}
