package storage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KeySize is the length of every key the store uses: KEKs, data keys and
// the audit HMAC key (256 bits).
const KeySize = 32

// keyringFormat names the key file format; a file without it is refused.
const keyringFormat = "pagebridge-keyring-1"

// Keyring holds key-encryption keys (KEKs) by ID. One of them is active:
// new data keys are wrapped under it. The others are kept only while a
// rotation is in progress.
//
// A Keyring is immutable; rotation builds a new one. It never formats its
// keys: fmt, slog and JSON see only the IDs.
type Keyring struct {
	active string
	keys   map[string]*kek
}

type kek struct {
	id      string
	key     []byte
	created time.Time
	aead    cipher.AEAD
}

// keyringFile is the on-disk form of a Keyring.
type keyringFile struct {
	Format string         `json:"format"`
	Active string         `json:"active"`
	Keys   []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Key is the 32-byte KEK in standard base64.
	Key string `json:"key"`
}

// kekID derives a KEK's ID from the key itself, so that an ID can never
// point at the wrong key and a garbled key is caught on load. The hash
// reveals nothing about the key.
func kekID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("pagebridge-kek-id-v1\x00"))
	h.Write(key)
	return "kek-" + hex.EncodeToString(h.Sum(nil)[:8])
}

func newKEK(key []byte, created time.Time) (*kek, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrBadKeyFile, len(key), KeySize)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &kek{id: kekID(key), key: key, created: created, aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func randomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never returns an error; crashes the program if the OS RNG fails
	return k
}

// newKeyring returns a keyring with one new random key.
func newKeyring() (*Keyring, error) {
	k, err := newKEK(randomKey(), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	return &Keyring{active: k.id, keys: map[string]*kek{k.id: k}}, nil
}

// ActiveID returns the ID of the key new data keys are wrapped under.
func (k *Keyring) ActiveID() string { return k.active }

// IDs returns the IDs of every key in the ring, sorted.
func (k *Keyring) IDs() []string { return slices.Sorted(maps.Keys(k.keys)) }

// Has reports whether the ring holds the key with this ID.
func (k *Keyring) Has(id string) bool { _, ok := k.keys[id]; return ok }

// String lists the key IDs, never the keys.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring(active %s, %d keys)", k.active, len(k.keys))
}

// GoString is String.
func (k *Keyring) GoString() string { return k.String() }

// LogValue implements slog.LogValuer with the IDs only.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("active", k.active), slog.Any("ids", k.IDs()))
}

// MarshalJSON refuses: a keyring is written only by its own file functions.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	return nil, errors.New("storage: a keyring is not marshalled")
}

// withNewKey returns a copy of k with a new random key made active.
func (k *Keyring) withNewKey() (*Keyring, error) {
	nk, err := newKEK(randomKey(), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	out := &Keyring{active: nk.id, keys: maps.Clone(k.keys)}
	out.keys[nk.id] = nk
	return out, nil
}

// onlyActive returns a copy of k holding only its active key.
func (k *Keyring) onlyActive() *Keyring {
	return &Keyring{active: k.active, keys: map[string]*kek{k.active: k.keys[k.active]}}
}

func (k *Keyring) encode() ([]byte, error) {
	f := keyringFile{Format: keyringFormat, Active: k.active}
	for _, id := range k.IDs() {
		e := k.keys[id]
		f.Keys = append(f.Keys, keyFileEntry{ID: e.id, Created: e.created, Key: base64.StdEncoding.EncodeToString(e.key)})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func decodeKeyring(path string, b []byte) (*Keyring, error) {
	var f keyringFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: not a pagebridge keyring (%v)", ErrBadKeyFile, path, err)
	}
	if f.Format != keyringFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrBadKeyFile, path, f.Format, keyringFormat)
	}
	k := &Keyring{active: f.Active, keys: make(map[string]*kek)}
	for i, e := range f.Keys {
		raw, err := base64.StdEncoding.DecodeString(e.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key %d (%s) is not base64", ErrBadKeyFile, path, i+1, e.ID)
		}
		if len(raw) != KeySize {
			return nil, fmt.Errorf("%w: %s: key %d (%s) is %d bytes, want %d", ErrBadKeyFile, path, i+1, e.ID, len(raw), KeySize)
		}
		nk, err := newKEK(raw, e.Created)
		if err != nil {
			return nil, err
		}
		if nk.id != e.ID {
			return nil, fmt.Errorf("%w: %s: key %d does not match its id %s (garbled?)", ErrBadKeyFile, path, i+1, e.ID)
		}
		k.keys[nk.id] = nk
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no keys", ErrBadKeyFile, path)
	}
	if !k.Has(k.active) {
		return nil, fmt.Errorf("%w: %s: active key %q is not in the file", ErrBadKeyFile, path, k.active)
	}
	return k, nil
}

// LoadKeyring reads a key file written by CreateKeyring. The file must be
// mode 0600 or 0640 (0400, 0440 also do). A missing file gives an error
// wrapping fs.ErrNotExist; a garbled one ErrBadKeyFile.
func LoadKeyring(path string) (*Keyring, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	k, err := decodeKeyring(path, b)
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	return k, nil
}

// CreateKeyring makes a key file holding one new random 256-bit KEK, mode
// 0640, written atomically. It fails with an error wrapping fs.ErrExist if
// the file exists: a key is never overwritten. The directory is created
// (0750) if missing.
func CreateKeyring(path string) (*Keyring, error) {
	k, err := newKeyring()
	if err != nil {
		return nil, err
	}
	if err := writeKeyring(path, k, false); err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	return k, nil
}

func writeKeyring(path string, k *Keyring, overwrite bool) error {
	b, err := k.encode()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return writeFileAtomic(path, 0o640, overwrite, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// LoadOrCreateKeyring loads the key file at path, or creates it if it does
// not exist. created reports whether it was made now.
func LoadOrCreateKeyring(path string) (k *Keyring, created bool, err error) {
	k, err = LoadKeyring(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = CreateKeyring(path)
	if isExist(err) { // another process made it meanwhile
		k, err = LoadKeyring(path)
		return k, false, err
	}
	return k, err == nil, err
}

// The audit key file is text: comment lines starting with '#', and one
// line holding the 32-byte HMAC key in standard base64.
const auditKeyHeader = "# pagebridge audit chain HMAC key (base64). Keep it beside the KEK, not in the data directory.\n"

// LoadAuditKey reads the audit HMAC key from a file written by
// CreateAuditKey. Same mode rules and errors as LoadKeyring.
func LoadAuditKey(path string) ([]byte, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("load audit key: %w", err)
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) != 1 {
		return nil, fmt.Errorf("load audit key: %w: %s: want one base64 key line, found %d", ErrBadKeyFile, path, len(lines))
	}
	key, err := base64.StdEncoding.DecodeString(lines[0])
	if err != nil {
		return nil, fmt.Errorf("load audit key: %w: %s: key is not base64", ErrBadKeyFile, path)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("load audit key: %w: %s: key is %d bytes, want %d", ErrBadKeyFile, path, len(key), KeySize)
	}
	return key, nil
}

// CreateAuditKey makes a file holding a new random 32-byte audit key, mode
// 0640, written atomically; it fails if the file exists.
func CreateAuditKey(path string) ([]byte, error) {
	key := randomKey()
	text := auditKeyHeader + base64.StdEncoding.EncodeToString(key) + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	err := writeFileAtomic(path, 0o640, false, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	return key, nil
}

// LoadOrCreateAuditKey loads the audit key at path, or creates it.
func LoadOrCreateAuditKey(path string) (key []byte, created bool, err error) {
	key, err = LoadAuditKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = CreateAuditKey(path)
	if isExist(err) {
		key, err = LoadAuditKey(path)
		return key, false, err
	}
	return key, err == nil, err
}

// dekRecord is a data key as stored in the keys bucket: wrapped (AES-GCM)
// under the KEK named by KEK.
type dekRecord struct {
	KEK     string    `json:"kek"`
	Created time.Time `json:"created"`
	// Wrapped is nonce || ciphertext || tag.
	Wrapped []byte `json:"wrapped"`
}

// wrapAAD binds a wrapped data key to its KEK and its own ID, so that a
// wrapped key cannot be moved to another slot.
func wrapAAD(kekID string, dekID uint64) []byte {
	aad := []byte("pagebridge-dek-v1\x00" + kekID + "\x00")
	return binary.BigEndian.AppendUint64(aad, dekID)
}

func (k *Keyring) wrap(dekID uint64, dek []byte, created time.Time) dekRecord {
	a := k.keys[k.active]
	nonce := make([]byte, a.aead.NonceSize(), a.aead.NonceSize()+len(dek)+a.aead.Overhead())
	rand.Read(nonce)
	return dekRecord{
		KEK:     a.id,
		Created: created,
		Wrapped: a.aead.Seal(nonce, nonce, dek, wrapAAD(a.id, dekID)),
	}
}

func (k *Keyring) unwrap(dekID uint64, r dekRecord) ([]byte, error) {
	a, ok := k.keys[r.KEK]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s not in keyring; it has %s)", ErrWrongKey, r.KEK, strings.Join(k.IDs(), ", "))
	}
	ns := a.aead.NonceSize()
	if len(r.Wrapped) < ns+a.aead.Overhead() {
		return nil, fmt.Errorf("%w: data key %d: wrapped key too short", ErrCorrupt, dekID)
	}
	dek, err := a.aead.Open(nil, r.Wrapped[:ns], r.Wrapped[ns:], wrapAAD(a.id, dekID))
	if err != nil {
		return nil, fmt.Errorf("%w (data key %d does not authenticate under key id %s)", ErrWrongKey, dekID, a.id)
	}
	if len(dek) != KeySize {
		return nil, fmt.Errorf("%w: data key %d is %d bytes", ErrCorrupt, dekID, len(dek))
	}
	return dek, nil
}
