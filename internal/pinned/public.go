package pinned

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// PublicOf returns the public key of a key file of either half: the
// private key ("PRIVATE KEY", PKCS#8, as [Save] writes it) or its public
// half ("CERTIFICATE" or "PUBLIC KEY", as [ReadPublic] reads them),
// whichever block comes first. It is for binding a key (veil attest
// produce --key), not for using it: a private key file is read without
// the checks of [Load], and its private half is dropped.
func PublicOf(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no PEM %s, %s or %s block", path, privateKeyBlock, certificateBlock, publicKeyBlock)
		}
		switch b.Type {
		case privateKeyBlock:
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
			}
			return s.Public(), nil
		case certificateBlock, publicKeyBlock:
			return ReadPublic(path)
		}
	}
}
