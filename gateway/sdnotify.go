package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// healthProbe is the systemd watchdog's probe: it asks the gateway's own
// HTTPS listener for /healthz over loopback, so the accept loop, the TLS
// handshake and the router all have to work for the watchdog to be fed.
// It accepts only the certificate the listener serves (cert), whatever
// names that certificate carries.
func healthProbe(addr net.Addr, cert *tls.Certificate) func(context.Context) error {
	target := loopbackTarget(addr)
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true, // every probe goes through Accept
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Checked below against the served certificate itself: a
			// configured one need not name the loopback address.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || cert == nil || len(cert.Certificate) == 0 ||
					!bytes.Equal(cs.PeerCertificates[0].Raw, cert.Certificate[0]) {
					return errors.New("not the gateway's own certificate")
				}
				return nil
			},
		},
	}}
	url := "https://" + target + "/healthz"
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
}

// loopbackTarget turns a listener's address into one to dial from the same
// host: an unspecified address (0.0.0.0, ::) becomes the loopback address of
// its family.
func loopbackTarget(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.Equal(net.IPv6unspecified):
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}
