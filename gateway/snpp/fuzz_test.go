package snpp

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// dirAll knows pager IDs 1001 to 1003; accepts records what SEND took.
type dirAll struct{}

func (dirAll) PagerID(_ context.Context, id string) (paging.PagerID, error) {
	if id == "1001" || id == "1002" || id == "1003" {
		return paging.PagerID{ID: id}, nil
	}
	return paging.PagerID{}, paging.ErrNotFound
}
func (dirAll) Person(context.Context, string) (paging.Person, error) { return paging.Person{}, nil }
func (dirAll) Role(context.Context, string) (paging.Role, error)     { return paging.Role{}, nil }
func (dirAll) Group(context.Context, string) (paging.Group, error)   { return paging.Group{}, nil }

type accepts struct{ n int }

func (a *accepts) Accept(_ context.Context, m *paging.Message, _ paging.AuditEvent) error {
	if err := m.Validate(); err != nil {
		return err
	}
	a.n++
	return nil
}

// FuzzSession: any bytes a sender sends get replies, never a panic; every
// reply line is a three-digit code; what SEND accepts is valid.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"PAGE 1001\r\nMESS hello\r\nSEND\r\nQUIT\r\n",
		"LOGI me\r\nLEVE 0\r\nPAGE 1002 99\r\nDATA\r\nline\r\n..dot\r\n.\r\nSEND\r\n",
		"PAGE 9999\r\nHOLD 2611271200\r\nHELP\r\nRESE\r\n" + strings.Repeat("x", 700) + "\r\n",
		"\x00\xff\r\nDATA\n\xff\n.\nSEND\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := New(Config{IdleTimeout: time.Second, MaxText: 1000}, &accepts{}, dirAll{}, nil, nil)
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() { srv.session(server); close(done) }()
		var out bytes.Buffer
		readDone := make(chan struct{})
		go func() { io.Copy(&out, client); close(readDone) }()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(append(in, []byte("\r\nQUIT\r\n")...))
		<-done
		client.Close()
		<-readDone
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\r\n"), "\r\n") {
			if len(line) < 4 || line[3] != ' ' || line[0] < '2' || line[0] > '5' {
				t.Fatalf("reply line %q", line)
			}
		}
	})
}
