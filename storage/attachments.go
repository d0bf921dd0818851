package storage

// Attachments of thread messages (schema 8): images and files staff post
// with a reply or a new thread.
//
// Layout:
//
//	thread.attachments   thread ID ‖ message ID ‖ n (1) ‖ chunk (4, BE)
//	                     → nonce (12) ‖ AES-256-GCM ciphertext and tag
//
// A message's attachments are described in its post record (type, size,
// chunk count, and, sealed like the text, the file name and the
// attachment's own data key); their bytes are split into chunks of
// AttachmentChunk bytes, each sealed with that key. The additional data
// of a chunk binds it to its key in the bucket (so to its thread,
// message, attachment and place) and to the number of chunks, so chunks
// cannot be reordered, moved between attachments or cut off unnoticed.
//
// A key per attachment keeps one upload's many chunks from using up the
// store's data key (whose nonces are counted) and makes the chunks
// readable only through the post record, which holds the key sealed under
// a store data key and therefore under the KEK.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

var bucketThreadAttachments = []byte("thread.attachments")

// migrateV8 adds the attachments' chunk bucket.
func migrateV8(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketThreadAttachments); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketThreadAttachments, err)
	}
	return nil
}

// Limits on attachments. What a deployment allows (size, types) is the
// threads service's to decide; these only bound what the store takes.
const (
	// MaxAttachments is the most attachments one message carries.
	MaxAttachments = 4
	// MaxAttachmentSize bounds one attachment, in bytes.
	MaxAttachmentSize = 64 << 20
	// MaxAttachmentNameLen bounds a file name, in bytes.
	MaxAttachmentNameLen = 255
	// AttachmentChunk is the size of the chunks an attachment is stored
	// in (the last one is shorter).
	AttachmentChunk = 1 << 20
)

// NewAttachment is a file to store with a message. Type is its media type
// as the caller determined it from the bytes (the store does not look).
type NewAttachment struct {
	Name paging.PHI // the file name the sender gave; sealed
	Type string
	Data []byte
}

// Attachment describes a stored attachment, as a member reads it.
type Attachment struct {
	// N is its place in the message (0 first): with the thread and
	// message, what ReadAttachment takes.
	N    int        `json:"n"`
	Name paging.PHI `json:"-"`
	Type string     `json:"type"`
	Size int64      `json:"size"`
}

// attachmentRecord is an attachment as the post record keeps it.
type attachmentRecord struct {
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	// Name and Key are sealed (fields "attachment.name.N",
	// "attachment.key.N" of the post).
	Name []byte `json:"name"`
	Key  []byte `json:"key"`
}

func attachmentField(what string, n int) string { return "attachment." + what + "." + strconv.Itoa(n) }

func attachmentPrefix(thread, msg paging.ID, n int) []byte {
	return append(postKey(thread, msg), byte(n))
}

func chunkKey(thread, msg paging.ID, n, chunk int) []byte {
	return binary.BigEndian.AppendUint32(attachmentPrefix(thread, msg, n), uint32(chunk))
}

func chunkAAD(key []byte, chunks int) []byte {
	aad := append([]byte("pagebridge-attachment-v1\x00"), key...)
	return binary.BigEndian.AppendUint32(aad, uint32(chunks))
}

// validAttachment checks what the store itself requires of one.
func validAttachment(a NewAttachment) error {
	switch {
	case len(a.Data) == 0:
		return fmt.Errorf("%w attachment: empty file", paging.ErrInvalid)
	case len(a.Data) > MaxAttachmentSize:
		return fmt.Errorf("%w attachment: larger than %d bytes", paging.ErrInvalid, MaxAttachmentSize)
	case a.Type == "" || len(a.Type) > 100:
		return fmt.Errorf("%w attachment: no media type", paging.ErrInvalid)
	}
	if err := validText("attachment name", a.Name, MaxAttachmentNameLen); err != nil {
		return err
	}
	if !validUTF8Name(a.Name.Reveal()) {
		return fmt.Errorf("%w attachment name: empty, or holds a control character or a slash", paging.ErrInvalid)
	}
	return nil
}

// sealedChunk is a chunk ready to put.
type sealedChunk struct{ key, value []byte }

// sealAttachments seals the attachments of message msg of thread: their
// records (name and key sealed with the store's data key, returned in
// deks) and their chunks.
func (s *Store) sealAttachments(thread, msg paging.ID, as []NewAttachment) ([]attachmentRecord, []sealedChunk, []uint64, error) {
	if len(as) > MaxAttachments {
		return nil, nil, nil, fmt.Errorf("%w message: more than %d attachments", paging.ErrInvalid, MaxAttachments)
	}
	var (
		recs   []attachmentRecord
		chunks []sealedChunk
		deks   []uint64
	)
	pk := postKey(thread, msg)
	for n, a := range as {
		if err := validAttachment(a); err != nil {
			return nil, nil, nil, err
		}
		fileKey := make([]byte, KeySize)
		rand.Read(fileKey)
		aead, err := newAEAD(fileKey)
		if err != nil {
			return nil, nil, nil, err
		}
		count := (len(a.Data) + AttachmentChunk - 1) / AttachmentChunk
		for i := range count {
			part := a.Data[i*AttachmentChunk : min((i+1)*AttachmentChunk, len(a.Data))]
			key := chunkKey(thread, msg, n, i)
			out := make([]byte, nonceLen, nonceLen+len(part)+aead.Overhead())
			rand.Read(out)
			chunks = append(chunks, sealedChunk{key: key, value: aead.Seal(out, out[:nonceLen], part, chunkAAD(key, count))})
		}
		name, err := s.sealer.seal(bucketThreadPosts, pk, attachmentField("name", n), []byte(a.Name.Reveal()))
		if err != nil {
			return nil, nil, nil, err
		}
		sk, err := s.sealer.seal(bucketThreadPosts, pk, attachmentField("key", n), fileKey)
		if err != nil {
			return nil, nil, nil, err
		}
		clear(fileKey)
		deks = append(deks, name.dek, sk.dek)
		recs = append(recs, attachmentRecord{Type: a.Type, Size: int64(len(a.Data)), Chunks: count, Name: name.value, Key: sk.value})
	}
	return recs, chunks, deks, nil
}

// openAttachments describes the attachments of a post record, names
// opened.
func (s *Store) openAttachments(k []byte, recs []attachmentRecord) ([]Attachment, error) {
	var out []Attachment
	for n, r := range recs {
		name, err := s.sealer.open(bucketThreadPosts, k, attachmentField("name", n), r.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, Attachment{N: n, Name: paging.NewPHI(string(name)), Type: r.Type, Size: r.Size})
	}
	return out, nil
}

// deleteChunks deletes every chunk of the attachments of the post at k
// (thread ID ‖ message ID).
func deleteChunks(t *txn, k []byte) error {
	b := t.Bucket(bucketThreadAttachments)
	var keys [][]byte
	c := b.Cursor()
	for ck, _ := c.Seek(k); ck != nil && bytes.HasPrefix(ck, k); ck, _ = c.Next() {
		keys = append(keys, bytes.Clone(ck))
	}
	for _, ck := range keys {
		if err := b.Delete(ck); err != nil {
			return err
		}
	}
	return nil
}

// ReadAttachment returns attachment n of a thread's message with its
// bytes, for reader, a member of the thread, after recording the read as
// "thread.attachment.read" for by: nothing is handed out unaudited (an
// error if the entry could not be committed).
//
// Errors: paging.ErrNotFound for an unknown thread, message or
// attachment; ErrNotMember if reader is not a member; ErrCorrupt if a
// chunk is missing, altered or moved.
func (s *Store) ReadAttachment(ctx context.Context, thread, message paging.ID, n int, reader string, by paging.AuditEvent) (Attachment, []byte, error) {
	if err := validPerson(reader); err != nil {
		return Attachment{}, nil, fmt.Errorf("read attachment: %w", err)
	}
	var (
		att  Attachment
		data []byte
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getThread(tx, thread)
		if err != nil {
			return err
		}
		if !r.IsMember(reader) {
			return ErrNotMember
		}
		k := postKey(thread, message)
		v := tx.Bucket(bucketThreadPosts).Get(k)
		if v == nil {
			return fmt.Errorf("message %s: %w", message, paging.ErrNotFound)
		}
		p, err := decodePost(k, v)
		if err != nil {
			return err
		}
		if n < 0 || n >= len(p.Attachments) {
			return fmt.Errorf("attachment %d of message %s: %w", n, message, paging.ErrNotFound)
		}
		rec := p.Attachments[n]
		name, err := s.sealer.open(bucketThreadPosts, k, attachmentField("name", n), rec.Name)
		if err != nil {
			return err
		}
		fileKey, err := s.sealer.open(bucketThreadPosts, k, attachmentField("key", n), rec.Key)
		if err != nil {
			return err
		}
		aead, err := newAEAD(fileKey)
		clear(fileKey)
		if err != nil {
			return err
		}
		att = Attachment{N: n, Name: paging.NewPHI(string(name)), Type: rec.Type, Size: rec.Size}
		data = make([]byte, 0, rec.Size)
		b := tx.Bucket(bucketThreadAttachments)
		for i := range rec.Chunks {
			ck := chunkKey(thread, message, n, i)
			cv := b.Get(ck)
			if len(cv) < nonceLen+aead.Overhead() {
				return fmt.Errorf("%w: attachment %d of message %s: chunk %d missing", ErrCorrupt, n, message, i)
			}
			data, err = aead.Open(data, cv[:nonceLen], cv[nonceLen:], chunkAAD(ck, rec.Chunks))
			if err != nil {
				return fmt.Errorf("%w: attachment %d of message %s: chunk %d does not authenticate", ErrCorrupt, n, message, i)
			}
		}
		if int64(len(data)) != rec.Size {
			return fmt.Errorf("%w: attachment %d of message %s: %d bytes, record says %d", ErrCorrupt, n, message, len(data), rec.Size)
		}
		return nil
	})
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("read attachment %d of message %s in thread %s: %w", n, message, thread, err)
	}
	at := s.now().UTC()
	err = s.do(context.WithoutCancel(ctx), func(tx *txn) error {
		ev := by
		ev.Action, ev.Object = "thread.attachment.read", objectThread(thread)
		ev.Detail = fmt.Sprintf("attachment %d of message %s (%s, %d bytes) by %s", n, message, att.Type, att.Size, reader)
		return tx.appendAudit(draftAudit(at, ev))
	})
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("read attachment %d of message %s: audit read: %w", n, message, err)
	}
	return att, data, nil
}

// validUTF8Name reports whether a file name may be stored: UTF-8 without
// control characters or path separators.
func validUTF8Name(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}
