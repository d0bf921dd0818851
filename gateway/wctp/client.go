package wctp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// maxReplyBytes bounds the reply Submit reads.
const maxReplyBytes = 64 << 10

// StatusError is an HTTP answer other than 200: WCTP servers answer every
// WCTP-level refusal inside a 200, so this is a transport-level refusal
// (405, 413, 415, a proxy's 502…).
type StatusError struct {
	StatusCode int
	Status     string
}

func (e *StatusError) Error() string { return "wctp: HTTP " + e.Status }

// Submit sends req to the WCTP endpoint at url (https://host/wctp) and
// returns the server's answer. A wctp-Failure is a Response with Success
// false and a nil error; the error is for requests that could not be
// encoded (ErrEncode), transport failures, non-200 answers (*StatusError)
// and replies that are not WCTP (ErrReply). hc nil means
// http.DefaultClient; its Timeout and the ctx bound the exchange.
func Submit(ctx context.Context, hc *http.Client, url string, req SubmitRequest) (Response, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	body, err := Encode(req)
	if err != nil {
		return Response{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("wctp: %w", err)
	}
	hreq.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hresp, err := hc.Do(hreq)
	if err != nil {
		return Response{}, fmt.Errorf("wctp submit: %w", err)
	}
	defer hresp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(hresp.Body, maxReplyBytes+1))
	if err != nil {
		return Response{}, fmt.Errorf("wctp submit: read reply: %w", err)
	}
	if hresp.StatusCode != http.StatusOK {
		return Response{}, &StatusError{StatusCode: hresp.StatusCode, Status: hresp.Status}
	}
	if len(reply) > maxReplyBytes {
		return Response{}, fmt.Errorf("%w: longer than %d bytes", ErrReply, maxReplyBytes)
	}
	return ParseResponse(reply)
}
