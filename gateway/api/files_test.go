package api_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"pagebridge/gateway/api"
)

// Files over the API: sent base64 in a message, typed from their bytes,
// read back by members only, served as downloads unless a raster image.
func TestThreadFiles(t *testing.T) {
	r := newRig(t)
	lee, kim := r.tok[api.RoleClinician], r.personToken(api.RoleClinician, "kim")
	r.addPerson("ng")
	ng := r.personToken(api.RoleClinician, "ng")
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 5, 5))); err != nil {
		t.Fatal(err)
	}
	img := b.Bytes()
	const marker = "FILE-MARKER-Rk41 Jane Roe"

	var c composedJSON
	r.with(lee, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "person", "id": "kim"},
		"files": []map[string]any{{"name": "roe jane.png", "data": img}, {"name": "notes.pdf", "data": []byte("plain " + marker)}}}, 201).json(t, &c)
	path := "/api/v1/threads/" + c.Thread.ID

	var v struct {
		Messages []struct {
			ID          string
			Attachments []struct {
				N          int
				Name, Type string
				Size       int64
				Path       string
			}
		}
	}
	r.with(kim, "GET", path, nil, 200).json(t, &v)
	if len(v.Messages) != 1 || len(v.Messages[0].Attachments) != 2 {
		t.Fatalf("thread %+v", v)
	}
	a0, a1 := v.Messages[0].Attachments[0], v.Messages[0].Attachments[1]
	if a0.Name != "roe jane.png" || a0.Type != "image/png" || a0.Size != int64(len(img)) || a1.Type != "text/plain" {
		t.Errorf("attachments %+v %+v", a0, a1)
	}
	res := r.with(kim, "GET", "/api/v1"+a0.Path, nil, 200)
	if !bytes.Equal(res.body, img) || res.header.Get("Content-Type") != "image/png" || res.header.Get("X-Content-Type-Options") != "nosniff" ||
		res.header.Get("Content-Disposition") != `inline; filename="roe jane.png"` {
		t.Errorf("image served with %v", res.header)
	}
	res = r.with(kim, "GET", "/api/v1"+a1.Path, nil, 200)
	if res.header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("text served with %v", res.header)
	}
	r.with(ng, "GET", "/api/v1"+a0.Path, nil, 403)
	r.with(kim, "GET", path+"/messages/"+v.Messages[0].ID+"/files/7", nil, 404)

	// Refused: HTML, a file over the limit (by type and by body size).
	res = r.with(kim, "POST", path+"/messages", map[string]any{"files": []map[string]any{{"name": "x.png", "data": []byte("<html><script>")}}}, 400)
	if !strings.Contains(res.errorText(t), "type not allowed") {
		t.Errorf("html: %s", res.body)
	}
	big := bytes.Repeat([]byte("a"), 10<<20+1)
	res = r.with(kim, "POST", path+"/messages", map[string]any{"files": []map[string]any{{"name": "big.txt", "data": big}}}, 400)
	if !strings.Contains(res.errorText(t), "too large") {
		t.Errorf("big file: %s", res.body)
	}
	r.with(kim, "POST", path+"/messages", map[string]any{"files": []map[string]any{{"name": "big.txt", "data": append(big, big...)}}}, 413)
	assertNowhere(t, r, marker, "roe jane")
}
