// A real Prometheus (Debian's /usr/bin/prometheus) for the monitoring tests: a temporary config
// and TSDB, its own loopback port, and a small client for its HTTP query API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run } from './proc.js';

/** Why the Prometheus tests cannot run here, or false when they can. */
export async function prometheusAvailable(): Promise<string | false> {
  const [p, t] = await Promise.all([run('prometheus', ['--version']), run('promtool', ['--version'])]);
  return p.code === 0 && t.code === 0 ? false : 'prometheus/promtool not installed (Debian package: prometheus)';
}

/** One sample of an instant vector as the HTTP API returns it. */
export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** One series of a range query (a matrix). */
export interface MatrixSeries {
  readonly metric: Record<string, string>;
  readonly values: [number, string][];
}

/** The API's answer: `status` is "success" or "error" (with errorType and error). */
export interface ApiAnswer<T> {
  readonly status: string;
  readonly data?: { resultType: string; result: T };
  readonly errorType?: string;
  readonly error?: string;
}

/** A running Prometheus that scrapes `targets` every second (job "sni-forwarder"). */
export class Prometheus {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, dir: string, url: string) {
    this.#child = child;
    this.#dir = dir;
    this.url = url;
    child.stderr?.on('data', (c: Buffer) => this.stderr.push(c.toString()));
    this.exited = new Promise((res) => child.on('exit', (code) => res(code)));
  }

  /**
   * Starts Prometheus with a 1 s scrape and rule-evaluation interval on `targets` (host:port of
   * /metrics endpoints) and `ruleFiles`, and resolves once /-/ready answers 200.
   */
  static async start(targets: readonly string[], ruleFiles: readonly string[] = []): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-prom-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      `rule_files: ${JSON.stringify(ruleFiles)}`,
      'scrape_configs:',
      '  - job_name: sni-forwarder',
      `    static_configs: [{ targets: ${JSON.stringify(targets)} }]`,
      '',
    ].join('\n'));
    const port = await freePort();
    const child = spawn('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const p = new Prometheus(child, dir, `http://127.0.0.1:${port}`);
    const exited = p.exited.then((code) => { throw new Error(`prometheus exited with ${code}: ${p.stderr.join('')}`); });
    await Promise.race([p.#ready(), exited]);
    return p;
  }

  /** Polls /-/ready until it answers 200 (connection refused until the port is bound). */
  async #ready(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && this.#child.exitCode === null) {
      const ok = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50)); // poll interval, not a synchronisation sleep
    }
    throw new Error(`prometheus not ready: ${this.stderr.join('')}`);
  }

  /** GET an API path with query parameters; the parsed JSON answer. */
  async api<T>(path: string, params: Record<string, string | string[]>): Promise<ApiAnswer<T>> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) q.append(k, one);
    const res = await fetch(`${this.url}${path}?${q.toString()}`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as ApiAnswer<T>;
  }

  /** Instant query at the current time. */
  query(expr: string): Promise<ApiAnswer<VectorSample[]>> {
    return this.api('/api/v1/query', { query: expr });
  }

  /** Range query over the last `seconds` with `stepSeconds`. */
  queryRange(expr: string, seconds: number, stepSeconds = 1): Promise<ApiAnswer<MatrixSeries[]>> {
    const end = Date.now() / 1000;
    return this.api('/api/v1/query_range', { query: expr, start: String(end - seconds), end: String(end), step: String(stepSeconds) });
  }

  /**
   * Re-runs the instant query `expr` (each ~100 ms) until `accept` holds for its result, and
   * returns that result; after `timeoutMs` it returns the last result, for the caller to assert.
   */
  async waitForQuery(expr: string, accept: (r: VectorSample[]) => boolean, timeoutMs = 15_000): Promise<VectorSample[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.query(expr);
      if (a.status !== 'success') throw new Error(`query ${expr}: ${a.errorType ?? ''} ${a.error ?? ''}`);
      const result = a.data?.result ?? [];
      if (accept(result) || Date.now() > deadline) return result;
      await new Promise((r) => setTimeout(r, 100)); // poll interval between queries (scrapes are 1 s apart)
    }
  }

  /** SIGTERM by PID (SIGKILL if it has not exited 10 s later), wait for the exit, remove the config and TSDB. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(kill);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Runs promtool with `args` and `input` on stdin; its exit code and output. */
export function promtool(args: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // promtool may exit before reading everything
    child.stdin.end(input ?? '');
  });
}
