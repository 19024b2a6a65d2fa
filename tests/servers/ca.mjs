// Test certificate authority, generated fresh at every start-up.
//
// Produces a self-signed CA certificate and a leaf certificate for the
// 127.0.0.1 IP address (and "localhost"), signed by that CA. The leaf is used
// by the HTTPS server that publishes the Client ID Metadata Document; the CA
// certificate is what the authorization servers (and test clients) trust.

import 'reflect-metadata'; // @peculiar/x509 (via tsyringe) needs a Reflect polyfill
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

function pemPkcs8(der) {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trim()}\n-----END PRIVATE KEY-----\n`;
}

/**
 * @returns {Promise<{ caCertPem: string, certPem: string, keyPem: string }>}
 */
export async function createTestCa() {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000); // tolerate small clock skew
  const notAfter = new Date(Date.now() + 30 * 24 * 60 * 60 * 1000);

  const caKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=MCP Auth Test CA',
    notBefore,
    notAfter,
    signingAlgorithm: EC,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const leafKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leafCert = await x509.X509CertificateGenerator.create({
    subject: 'CN=127.0.0.1',
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: EC,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ], false),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const keyDer = await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
  return {
    caCertPem: caCert.toString('pem') + '\n',
    certPem: leafCert.toString('pem') + '\n',
    keyPem: pemPkcs8(keyDer),
  };
}
