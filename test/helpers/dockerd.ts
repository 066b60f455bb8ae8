// A private Docker daemon (and the containerd it starts) for the registry end-to-end test: Debian's dockerd with its own data
// and exec roots, no bridge, no iptables and vfs storage (nothing of the host's Docker is used
// or touched), in a private mount namespace whose /etc/hosts sends the registry names to the
// forwarder. Registry names are resolved by dockerd, not by the docker CLI, so it is dockerd
// that needs the hosts file; it trusts the test CA through SSL_CERT_FILE (Go's system pool).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child } from './child.js';
import { run, type RunResult } from './proc.js';

/** Why dockerd cannot run here (for t.skip), or null when it can. */
export async function dockerdUnavailable(): Promise<string | null> {
  for (const [cmd, args] of [['dockerd', ['--version']], ['docker', ['--version']], ['ctr', ['--version']]] as const) {
    const r = await run(cmd, args);
    if (r.code !== 0) return `${cmd} is needed (Debian package docker.io, which brings containerd): ${r.stderr.trim() || 'not found'}`;
  }
  return null;
}

export class Dockerd {
  readonly #dir: string;
  readonly #child: Child;

  private constructor(dir: string, child: Child) {
    this.#dir = dir;
    this.#child = child;
  }

  /** Starts dockerd with `hostsFile` as its /etc/hosts and `caFile` as its trusted roots; resolves once its API listens. */
  static async start(hostsFile: string, caFile: string): Promise<Dockerd> {
    const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-dockerd-'));
    mkdirSync(join(dir, 'config'));
    const child = new Child('dockerd', 'unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec dockerd "$@"', hostsFile,
      '--iptables=false', '--ip-forward=false', '--bridge=none', '--storage-driver=vfs',
      `--data-root=${join(dir, 'data')}`, `--exec-root=${join(dir, 'exec')}`, `--pidfile=${join(dir, 'docker.pid')}`,
      '-H', `unix://${join(dir, 'docker.sock')}`], { ...process.env, SSL_CERT_FILE: caFile });
    const d = new Dockerd(dir, child);
    try {
      await child.waitForLine('API listen on');
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  /** Runs the docker CLI against this daemon, with its own client config (credentials). */
  docker(args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    return run('env', [`DOCKER_CONFIG=${join(this.#dir, 'config')}`, 'docker', '-H', `unix://${join(this.#dir, 'docker.sock')}`, ...args], { timeoutMs });
  }

  /**
   * Runs containerd's `ctr` against the containerd this dockerd started (its exec root). ctr
   * fetches images itself, so it runs in a private mount namespace with `hostsFile` too.
   */
  ctr(hostsFile: string, args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    return run('unshare', ['--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec ctr "$@"', hostsFile,
      '--address', join(this.#dir, 'exec', 'containerd', 'containerd.sock'), ...args], { timeoutMs });
  }

  /** The daemon's log, for failure messages. */
  get log(): string {
    return this.#child.lines.slice(-40).join('\n');
  }

  /** Stops dockerd (it stops its own containerd) and removes its files. */
  async stop(): Promise<void> {
    await this.#child.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
