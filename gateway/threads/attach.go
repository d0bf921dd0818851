package threads

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// File is an attachment as a sender gives it: the name they gave and the
// bytes. What it is is decided from the bytes, never from a type the
// client claimed.
type File struct {
	Name string
	Data []byte
}

// AttachmentPolicy is what a message may carry.
type AttachmentPolicy struct {
	// MaxSize bounds one file, in bytes (at most storage.MaxAttachmentSize).
	MaxSize int64
	// Types are the media types allowed, as http.DetectContentType names
	// them without parameters ("image/png", "application/pdf",
	// "text/plain").
	Types []string
}

// DefaultAttachmentPolicy: 10 MiB; photos (PNG, JPEG, GIF, WebP), PDF and
// plain text.
var DefaultAttachmentPolicy = AttachmentPolicy{MaxSize: 10 << 20,
	Types: []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}}

// Errors of attachments; both wrap paging.ErrInvalid and their texts hold
// no PHI.
var (
	ErrFileTooLarge = fmt.Errorf("%w attachment: too large", paging.ErrInvalid)
	ErrFileType     = fmt.Errorf("%w attachment: type not allowed", paging.ErrInvalid)
)

// inlineImages are the types a page may show inline: raster images a
// browser decodes without running anything. Never SVG.
var inlineImages = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// InlineImage reports whether a stored attachment of media type typ may be
// shown in the page (an <img> from this origin); every other type is
// served as a download.
func InlineImage(typ string) bool { return slices.Contains(inlineImages, typ) }

// Sniff returns the media type of data, from its bytes
// (http.DetectContentType, parameters dropped).
func Sniff(data []byte) string {
	t, _, err := mime.ParseMediaType(http.DetectContentType(data))
	if err != nil {
		return "application/octet-stream"
	}
	return t
}

// Check checks files against the policy and returns them as the store
// takes them, each with its sniffed type. A name is reduced to its last
// path element; an empty one becomes "file".
func (p AttachmentPolicy) Check(files []File) ([]storage.NewAttachment, error) {
	if len(files) > storage.MaxAttachments {
		return nil, fmt.Errorf("%w message: more than %d attachments", paging.ErrInvalid, storage.MaxAttachments)
	}
	maxSize := min(p.MaxSize, storage.MaxAttachmentSize)
	out := make([]storage.NewAttachment, 0, len(files))
	for i, f := range files {
		if int64(len(f.Data)) > maxSize {
			return nil, fmt.Errorf("%w: file %d is %d bytes, the limit is %d", ErrFileTooLarge, i+1, len(f.Data), maxSize)
		}
		if len(f.Data) == 0 {
			return nil, fmt.Errorf("%w attachment: file %d is empty", paging.ErrInvalid, i+1)
		}
		typ := Sniff(f.Data)
		if !slices.Contains(p.Types, typ) {
			return nil, fmt.Errorf("%w: file %d is %s; allowed: %s", ErrFileType, i+1, typ, strings.Join(p.Types, ", "))
		}
		out = append(out, storage.NewAttachment{Name: paging.NewPHI(cleanName(f.Name)), Type: typ, Data: f.Data})
	}
	return out, nil
}

// cleanName is a file name as stored: its last element (a browser may send
// a path), control and format characters dropped, at most storage's
// length.
func cleanName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		// Control and format characters (a right-to-left override
		// makes "gnp.exe" read as "exe.png") never reach a name.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '/' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	for len(name) > storage.MaxAttachmentNameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "/" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// policy is the service's attachment policy (the default if unset).
func (s *Service) policy() AttachmentPolicy {
	p := s.opts.Attachments
	if p.MaxSize <= 0 {
		p.MaxSize = DefaultAttachmentPolicy.MaxSize
	}
	if len(p.Types) == 0 {
		p.Types = DefaultAttachmentPolicy.Types
	}
	return p
}

// Attachment returns attachment n of a message for a member of its
// thread; the read is audited (storage.ReadAttachment). Unlike Read, the
// access hook does not open it to non-members: ErrForbidden.
func (s *Service) Attachment(ctx context.Context, as Caller, thread, message paging.ID, n int) (storage.Attachment, []byte, error) {
	if err := checkPerson(as.Person); err != nil {
		return storage.Attachment{}, nil, err
	}
	a, data, err := s.st.ReadAttachment(ctx, thread, message, n, as.Person, as.audit())
	if err != nil {
		if errors.Is(err, storage.ErrNotMember) {
			return a, nil, fmt.Errorf("attachment: %w", forbidden(err))
		}
		return a, nil, fmt.Errorf("attachment: %w", err)
	}
	return a, data, nil
}
