// A throwaway certificate authority made with the openssl CLI at test time, so tests see real
// certificate validation with nothing downloaded or committed.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  /** SHA-256 fingerprint as node reports it (AA:BB:...). */
  readonly fingerprint256: string;
  /** curl --pinnedpubkey form: sha256//BASE64 of the SubjectPublicKeyInfo. */
  readonly pinnedPubkey: string;
}

export class TestCa {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  #serial = 1;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'sni-fwd-pki-'));
    this.caFile = join(this.dir, 'ca.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(this.dir, 'ca.key'), '-out', this.caFile, '-days', '2', '-subj', '/CN=sni-forwarder test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    this.caPem = readFileSync(this.caFile, 'utf8');
  }

  /** Issues a server certificate for `names` (DNS SANs). */
  issue(names: readonly string[]): Leaf {
    const id = this.#serial++;
    const key = join(this.dir, `leaf${id}.key`);
    const csr = join(this.dir, `leaf${id}.csr`);
    const certFile = join(this.dir, `leaf${id}.pem`);
    const ext = join(this.dir, `leaf${id}.ext`);
    writeFileSync(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0] ?? 'leaf'}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', join(this.dir, 'ca.key'), '-set_serial', String(1000 + id),
      '-out', certFile, '-days', '2', '-extfile', ext]);
    const cert = readFileSync(certFile, 'utf8');
    const x509 = new X509Certificate(cert);
    const spki = createPublicKey(cert).export({ type: 'spki', format: 'der' });
    return {
      cert,
      key: readFileSync(key, 'utf8'),
      certFile,
      fingerprint256: x509.fingerprint256,
      pinnedPubkey: `sha256//${createHash('sha256').update(spki).digest('base64')}`,
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
