// Debian's HAProxy as a real PROXY-protocol sender in front of the daemon: mode tcp, one
// frontend per backend option, started in the foreground and stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './proc.js';

/** One HAProxy frontend port forwarding to `target` with the given `server` options. */
export interface Frontend {
  readonly port: number;
  readonly target: number;
  /** e.g. "send-proxy-v2" or "send-proxy". */
  readonly serverOptions: string;
}

export async function haproxyAvailable(): Promise<string | false> {
  const r = await run('haproxy', ['-v']);
  return r.code === 0 ? false : 'haproxy not installed (Debian package: haproxy)';
}

export class Haproxy {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly stderr: string[] = [];

  private constructor(child: ChildProcess, dir: string) {
    this.#child = child;
    this.#dir = dir;
    child.stderr?.on('data', (c: Buffer) => this.stderr.push(c.toString()));
  }

  /** Starts HAProxy and waits until every frontend accepts connections. */
  static async start(frontends: readonly Frontend[]): Promise<Haproxy> {
    const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-haproxy-'));
    const cfg = join(dir, 'haproxy.cfg');
    const sections = frontends.map((f, i) => `
frontend fe${i}
  bind 127.0.0.1:${f.port}
  default_backend be${i}
backend be${i}
  server fwd 127.0.0.1:${f.target} ${f.serverOptions}
`).join('');
    writeFileSync(cfg, `global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${sections}`);
    const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    const h = new Haproxy(child, dir);
    const exited = once(child, 'exit').then(([code]) => { throw new Error(`haproxy exited with ${String(code)}: ${h.stderr.join('')}`); });
    for (const f of frontends) await Promise.race([waitForPort(f.port), exited]);
    return h;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      await once(this.#child, 'exit');
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Resolves once something accepts on 127.0.0.1:port (retrying on ECONNREFUSED, bounded). */
async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setImmediate(r));
  }
}
