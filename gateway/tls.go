package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"pagebridge/internal/conf"
)

// tlsConfig loads the configured certificate, or the self-signed one in the
// data dir, generating it on first start. TLS 1.2 is the minimum.
func tlsConfig(sc ServerConfig, dataDir string) (*tls.Config, string, error) {
	certFile, keyFile, source := sc.TLSCert, sc.TLSKey, "configured"
	if certFile == "" {
		var created bool
		var err error
		if certFile, keyFile, created, err = ensureSelfSigned(sc, dataDir); err != nil {
			return nil, "", err
		}
		source = "self-signed"
		if created {
			source = "self-signed, generated"
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, source + " " + certFile, nil
}

// ensureSelfSigned returns the self-signed certificate's and key's paths in
// the data dir, generating them if the certificate is missing.
func ensureSelfSigned(sc ServerConfig, dataDir string) (certFile, keyFile string, created bool, err error) {
	certFile, keyFile = filepath.Join(dataDir, "tls-cert.pem"), filepath.Join(dataDir, "tls-key.pem")
	if _, err := os.Stat(certFile); !errors.Is(err, fs.ErrNotExist) {
		return certFile, keyFile, false, err
	}
	if err := generateSelfSigned(certFile, keyFile, sc.Hostnames); err != nil {
		return "", "", false, fmt.Errorf("generate self-signed certificate: %w", err)
	}
	return certFile, keyFile, true, nil
}

// generateSelfSigned writes a P-256 certificate valid ten years for
// localhost, the loopback addresses and hostnames.
func generateSelfSigned(certFile, keyFile string, hostnames []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Pagebridge " + host, Organization: []string{"Pagebridge appliance"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              append([]string{"localhost"}, hostnames...),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := conf.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return conf.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
