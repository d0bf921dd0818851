package api

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
	"pagebridge/storage"
)

// Attachments in the API: a message's files go in its JSON as
// {"name": …, "data": base64}, checked by the threads service (size and
// type from the bytes); a member reads one with
// GET /threads/{id}/messages/{msg}/files/{n}, served as the web app
// serves it.

// DefaultFilesBody bounds the body of a message that carries files: 10 MiB
// of files in base64 with the JSON around them.
const DefaultFilesBody = (10<<20)*4/3 + 64<<10

// fileRequest is a file of a message.
type fileRequest struct {
	Name string `json:"name"`
	Data []byte `json:"data"` // base64 in JSON
}

func filesOf(fs []fileRequest) []threads.File {
	if len(fs) == 0 {
		return nil
	}
	out := make([]threads.File, len(fs))
	for i, f := range fs {
		out[i] = threads.File{Name: f.Name, Data: f.Data}
	}
	return out
}

// attachmentView is a file of a message as a member reads it.
type attachmentView struct {
	N    int    `json:"n"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	// Path is where it is read, under the API's base.
	Path string `json:"path"`
}

func attachmentsOf(thread paging.ID, m storage.ThreadMessage) []attachmentView {
	var out []attachmentView
	for _, a := range m.Attachments {
		out = append(out, attachmentView{N: a.N, Name: a.Name.Reveal(), Type: a.Type, Size: a.Size,
			Path: "/threads/" + thread.String() + "/messages/" + m.ID.String() + "/files/" + strconv.Itoa(a.N)})
	}
	return out
}

// decodeContent decodes a message body, which may carry files.
func (a *API) decodeContent(c *gin.Context, v any) error {
	return decodeLimit(c, v, false, a.filesBody)
}

// readFile answers a file of a message to a member (the store audits the
// read): its stored type, never to be sniffed, inline only for a raster
// image, in a sandbox, not cached.
func (a *API) readFile(c *gin.Context, k *call) (reply, error) {
	id, err := a.threadParam(c)
	if err != nil {
		return reply{}, err
	}
	msg, err := idParam(c, "msg", "message")
	if err != nil {
		return reply{}, err
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 || n > 255 {
		return reply{}, fmt.Errorf("file %q: %w", clip(c.Param("n"), 10), paging.ErrNotFound)
	}
	if a.threads == nil {
		return reply{}, errNoThreads
	}
	att, data, err := a.threads.Attachment(c.Request.Context(), caller(k), id, msg, n)
	if err != nil {
		return reply{}, threadErr(k, id, err)
	}
	typ, disposition := att.Type, "attachment"
	if typ == "text/plain" {
		typ += "; charset=utf-8"
	}
	if threads.InlineImage(att.Type) {
		disposition = "inline"
	}
	cd := mime.FormatMediaType(disposition, map[string]string{"filename": att.Name.Reveal()})
	if cd == "" {
		cd = disposition
	}
	return reply{status: http.StatusOK, contentType: typ, body: data, header: map[string]string{
		"Content-Disposition": cd, "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "no-store"}}, nil
}
