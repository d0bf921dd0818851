package ui

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The app's icons are drawn here and committed as PNG files under
// static/icons (embedded like every static file): go test ./ui -run
// TestIcons -icons writes them again after a change of the drawing.
var writeIcons = flag.Bool("icons", false, "write static/icons/*.png from the drawing")

var (
	iconNavy  = color.NRGBA{0x0b, 0x3d, 0x62, 0xff}
	iconWhite = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	iconRed   = color.NRGBA{0xd9, 0x30, 0x25, 0xff}
)

// drawIcon draws the icon at size×size: a white message bubble with three
// dots on navy and a red badge; maskable fills the square (the platform
// cuts its own shape), otherwise the navy is a rounded square.
func drawIcon(size int, maskable bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4 // subsamples per side
	s := float64(size)
	// Shapes in units of the icon's side (0..1). The maskable icon keeps
	// its content within the safe zone (the middle 80 %).
	scale, off := 1.0, 0.0
	if maskable {
		scale, off = 0.8, 0.1
	}
	in := func(x, y float64) (c color.NRGBA, hit bool) {
		u, v := (x-off)/scale, (y-off)/scale
		badge := math.Hypot(u-0.76, v-0.26) < 0.11
		bubble := roundRect(u, v, 0.2, 0.28, 0.8, 0.68, 0.1) || tri(u, v, 0.3, 0.64, 0.44, 0.64, 0.27, 0.8)
		dot := false
		for _, dx := range []float64{0.36, 0.5, 0.64} {
			dot = dot || math.Hypot(u-dx, v-0.48) < 0.045
		}
		switch {
		case badge:
			return iconRed, true
		case bubble && !dot:
			return iconWhite, true
		}
		if maskable || roundRect(x, y, 0, 0, 1, 1, 0.22) {
			return iconNavy, true
		}
		return color.NRGBA{}, false
	}
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / s
					y := (float64(py) + (float64(sy)+0.5)/ss) / s
					if c, ok := in(x, y); ok {
						r, g, b, a = r+float64(c.R), g+float64(c.G), b+float64(c.B), a+1
					}
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(255 * a / ss / ss)})
		}
	}
	return img
}

// roundRect reports whether (x, y) is inside the rectangle with corners
// of radius rad.
func roundRect(x, y, x0, y0, x1, y1, rad float64) bool {
	if x < x0 || x > x1 || y < y0 || y > y1 {
		return false
	}
	cx := math.Max(x0+rad, math.Min(x, x1-rad))
	cy := math.Max(y0+rad, math.Min(y, y1-rad))
	return math.Hypot(x-cx, y-cy) <= rad
}

// tri reports whether (x, y) is inside the triangle.
func tri(x, y, ax, ay, bx, by, cx, cy float64) bool {
	side := func(px, py, qx, qy float64) float64 { return (qx-px)*(y-py) - (qy-py)*(x-px) }
	d1, d2, d3 := side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
	neg := d1 < 0 || d2 < 0 || d3 < 0
	pos := d1 > 0 || d2 > 0 || d3 > 0
	return !(neg && pos)
}

func TestIcons(t *testing.T) {
	for _, c := range []struct {
		file     string
		size     int
		maskable bool
	}{
		{"icon-192.png", 192, false},
		{"icon-512.png", 512, false},
		{"maskable-512.png", 512, true},
	} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, drawIcon(c.size, c.maskable)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("static", "icons", c.file)
		if *writeIcons {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue // embedded at the next build
		}
		got, err := staticFS.ReadFile("static/icons/" + c.file)
		if err != nil {
			t.Fatalf("%s is not embedded: %v (write it with -icons)", c.file, err)
		}
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if b := img.Bounds(); b.Dx() != c.size || b.Dy() != c.size {
			t.Errorf("%s is %v, want %d×%d", c.file, b, c.size, c.size)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%s differs from the drawing: go test ./ui -run TestIcons -icons", c.file)
		}
	}
}
