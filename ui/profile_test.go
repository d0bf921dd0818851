package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func encoded(t *testing.T, w, h int, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckPhoto(t *testing.T) {
	pngEnc := func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) }
	jpegEnc := func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) }
	gifEnc := func(b *bytes.Buffer, i image.Image) error { return gif.Encode(b, i, nil) }
	for _, c := range []struct {
		name, want, err string
		data            []byte
	}{
		{"png", "image/png", "", encoded(t, 64, 48, pngEnc)},
		{"jpeg", "image/jpeg", "", encoded(t, 64, 48, jpegEnc)},
		{"gif is refused", "", "not a PNG or JPEG", encoded(t, 8, 8, gifEnc)},
		{"too wide", "", "larger than 2048", encoded(t, MaxPhotoSide+1, 1, pngEnc)},
		{"svg", "", "not a PNG or JPEG", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)},
		{"html posing as png", "", "not a PNG or JPEG", []byte("\x89PNG\r\n\x1a\n<script>alert(1)</script>")},
		{"empty", "", "not a PNG or JPEG", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkPhoto(c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %q, %v; want error %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestValidTo(t *testing.T) {
	for _, c := range []struct {
		to      string
		pagerOK bool
		want    bool
	}{
		{"pager:1001", true, true},
		{"pager:1001", false, false},
		{"person:amara.okafor", false, true},
		{"role:cardiology-oncall", false, true},
		{"group:code-team", false, true},
		{"group:", false, false},
		{"team:x", true, false},
		{"1001", true, false},
		{"", true, false},
		{"person:" + strings.Repeat("x", 257), true, false},
	} {
		if got := validTo(c.to, c.pagerOK); got != c.want {
			t.Errorf("validTo(%.40q, %v) = %v, want %v", c.to, c.pagerOK, got, c.want)
		}
	}
}

func TestInitial(t *testing.T) {
	for in, want := range map[string]string{"Dr Amara Okafor": "AO", "émile": "É", "Ben Lee RN": "BL", "Dr.": "?", "": "?"} {
		if got := initial(in); got != want {
			t.Errorf("initial(%q) = %q, want %q", in, got, want)
		}
	}
}
