package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"pagebridge/gateway/paging"
)

// Buckets of the staff side of the web app: the answers recipients give
// to a page ("responding", "can't respond"), and each person's profile
// (notification preferences, photo). They hold only what people set, so
// they are made by the first write that needs them (no schema step): a
// read of a store that has none finds nothing.
var (
	bucketResponses = []byte("responses")
	bucketProfiles  = []byte("profiles")
)

// Answers a recipient gives to a page (a code-team call): coming, or not.
const (
	AnswerResponding = "responding"
	AnswerCannot     = "cannot"
)

// Response is one person's answer to a page. Nothing in it is PHI.
type Response struct {
	Person string    `json:"person"`
	Answer string    `json:"answer"`
	At     time.Time `json:"at"`
}

// responseKey is the page's ID then the person: a page's answers are one
// prefix scan.
func responseKey(msg paging.ID, person string) []byte {
	return append(append(make([]byte, 0, len(msg)+len(person)), msg[:]...), person...)
}

// PutResponse records person's answer to page msg (a later answer
// replaces an earlier one), audited as "page.response". paging.ErrInvalid
// for an unknown answer or no person.
func (s *Store) PutResponse(ctx context.Context, msg paging.ID, r Response, by paging.AuditEvent) error {
	if r.Answer != AnswerResponding && r.Answer != AnswerCannot {
		return fmt.Errorf("response to %s: %w answer %q", msg, paging.ErrInvalid, r.Answer)
	}
	if r.Person == "" || len(r.Person) > 256 {
		return fmt.Errorf("response to %s: %w person", msg, paging.ErrInvalid)
	}
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC()
	v, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	by.Action, by.Object, by.Detail = "page.response", "message/"+msg.String(), r.Person+": "+r.Answer
	d := draftAudit(r.At, by)
	err = s.do(ctx, func(t *txn) error {
		b, err := t.CreateBucketIfNotExists(bucketResponses)
		if err != nil {
			return err
		}
		if err := b.Put(responseKey(msg, r.Person), v); err != nil {
			return err
		}
		return t.appendAudit(d)
	})
	if err != nil {
		return fmt.Errorf("response to %s: %w", msg, err)
	}
	return nil
}

// Responses returns the answers given to page msg, by person.
func (s *Store) Responses(ctx context.Context, msg paging.ID) ([]Response, error) {
	var out []Response
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResponses)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(msg[:]); k != nil && bytes.HasPrefix(k, msg[:]); k, v = c.Next() {
			var r Response
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w: response %x: %v", ErrCorrupt, k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("responses to %s: %w", msg, err)
	}
	return out, nil
}

// fieldPhoto names a profile photo in sealed values.
const fieldPhoto = "photo"

// MaxPhotoBytes bounds a profile photo.
const MaxPhotoBytes = 512 << 10

// PhotoTypes are the content types a profile photo may have.
var PhotoTypes = []string{"image/png", "image/jpeg", "image/webp"}

// Preferences are how a person's open app notifies them. The zero value
// is the default: sound and vibration on. A critical page sounds and
// vibrates whatever they say.
type Preferences struct {
	Mute      bool `json:"mute,omitempty"`
	NoVibrate bool `json:"no_vibrate,omitempty"`
}

// profileRecord is a profile as stored: the photo sealed like PHI (a staff
// photo is not PHI, but it is personal data and never lies loose on disk).
type profileRecord struct {
	Preferences
	PhotoType string    `json:"photo_type,omitempty"`
	Photo     []byte    `json:"photo,omitempty"`
	Updated   time.Time `json:"updated"`
}

// Profile is a person's profile without the photo's bytes.
type Profile struct {
	Person string
	Preferences
	// PhotoType is the photo's content type, "" if there is none.
	PhotoType string
	Updated   time.Time
}

func getProfile(b *bolt.Bucket, person string) (profileRecord, error) {
	var r profileRecord
	if b == nil {
		return r, nil
	}
	v := b.Get([]byte(person))
	if v == nil {
		return r, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("%w: profile %s: %v", ErrCorrupt, person, err)
	}
	return r, nil
}

// Profile reads person's profile; a person who never set one gets the
// defaults. paging.ErrNotFound if there is no such person.
func (s *Store) Profile(ctx context.Context, person string) (Profile, error) {
	out := Profile{Person: person}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPeople).Get([]byte(person)) == nil {
			return paging.ErrNotFound
		}
		r, err := getProfile(tx.Bucket(bucketProfiles), person)
		out.Preferences, out.PhotoType, out.Updated = r.Preferences, r.PhotoType, r.Updated
		return err
	})
	if err != nil {
		return Profile{}, fmt.Errorf("profile of %s: %w", person, err)
	}
	return out, nil
}

// Photo returns person's photo and its content type; paging.ErrNotFound
// if they have none.
func (s *Store) Photo(ctx context.Context, person string) (string, []byte, error) {
	var typ string
	var sealedPhoto []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getProfile(tx.Bucket(bucketProfiles), person)
		if err != nil {
			return err
		}
		if r.PhotoType == "" {
			return paging.ErrNotFound
		}
		typ, sealedPhoto = r.PhotoType, slices.Clone(r.Photo)
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("photo of %s: %w", person, err)
	}
	b, err := s.sealer.open(bucketProfiles, []byte(person), fieldPhoto, sealedPhoto)
	if err != nil {
		return "", nil, fmt.Errorf("photo of %s: %w", person, err)
	}
	return typ, b, nil
}

// updateProfile changes person's profile record in one audited commit.
func (s *Store) updateProfile(ctx context.Context, person string, by paging.AuditEvent, fn func(t *txn, r *profileRecord) error) error {
	d := draftAudit(s.now(), by)
	return s.do(ctx, func(t *txn) error {
		if t.Bucket(bucketPeople).Get([]byte(person)) == nil {
			return paging.ErrNotFound
		}
		b, err := t.CreateBucketIfNotExists(bucketProfiles)
		if err != nil {
			return err
		}
		r, err := getProfile(b, person)
		if err != nil {
			return err
		}
		if err := fn(t, &r); err != nil {
			return err
		}
		r.Updated = s.now().UTC()
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(person), v); err != nil {
			return err
		}
		return t.appendAudit(d)
	})
}

// SetPreferences stores person's notification preferences, audited as
// "profile.preferences".
func (s *Store) SetPreferences(ctx context.Context, person string, p Preferences, by paging.AuditEvent) error {
	by.Action, by.Object = "profile.preferences", "person/"+person
	by.Detail = fmt.Sprintf("sound %s, vibration %s", onOff(!p.Mute), onOff(!p.NoVibrate))
	err := s.updateProfile(ctx, person, by, func(_ *txn, r *profileRecord) error {
		r.Preferences = p
		return nil
	})
	if err != nil {
		return fmt.Errorf("preferences of %s: %w", person, err)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// SetPhoto stores person's photo, sealed (nil photo removes it), audited
// as "profile.photo" with its size and type only. paging.ErrInvalid for a
// type not in PhotoTypes or more than MaxPhotoBytes; the caller checks
// that the bytes are an image of that type.
func (s *Store) SetPhoto(ctx context.Context, person, contentType string, photo []byte, by paging.AuditEvent) error {
	by.Action, by.Object = "profile.photo", "person/"+person
	var sp sealed
	if photo != nil {
		if !slices.Contains(PhotoTypes, contentType) {
			return fmt.Errorf("photo of %s: %w: type %q is not one of %s", person, paging.ErrInvalid, contentType, strings.Join(PhotoTypes, ", "))
		}
		if len(photo) > MaxPhotoBytes {
			return fmt.Errorf("photo of %s: %w: %d bytes, at most %d", person, paging.ErrInvalid, len(photo), MaxPhotoBytes)
		}
		var err error
		if sp, err = s.sealer.seal(bucketProfiles, []byte(person), fieldPhoto, photo); err != nil {
			return fmt.Errorf("photo of %s: %w", person, err)
		}
		by.Detail = fmt.Sprintf("photo set (%s, %d bytes)", contentType, len(photo))
	} else {
		by.Detail = "photo removed"
	}
	err := s.updateProfile(ctx, person, by, func(t *txn, r *profileRecord) error {
		if photo == nil {
			r.PhotoType, r.Photo = "", nil
			return nil
		}
		if err := t.s.sealer.store(t, sp.dek); err != nil {
			return err
		}
		r.PhotoType, r.Photo = contentType, sp.value
		return nil
	})
	if err != nil {
		return fmt.Errorf("photo of %s: %w", person, err)
	}
	return nil
}
