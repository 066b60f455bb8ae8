// Runs the built CLI (dist/cli.js) as a child process, the way an operator does, and reads its
// JSON log lines so tests can wait for events instead of sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseExposition } from '../../src/observe/exposition.js';

export const CLI = resolve(import.meta.dirname, '../../../dist/cli.js');

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * The environment the CLI runs with: the test's own, minus NODE_OPTIONS, through which tap would
 * load its process-info hooks (a loader thread) into the daemon — the daemon under test must run
 * as an operator runs it.
 */
export function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return env;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI to completion with `args` (and `env` added to the environment); `prefix` runs it
 * under another command, e.g. `['setpriv', '--reuid=nobody', ...]`.
 */
export async function runCli(args: readonly string[], timeoutMs = 20_000, prefix: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const argv = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...cliEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Writes `yaml` to a fresh temp dir; returns the path. */
export function writeConfig(yaml: string, name = 'config.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sni-fwd-cfg-'));
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/**
 * A config with one TLS listener and the metrics server, both on ephemeral loopback ports,
 * followed by `rest` (routes, limits, ...): the start of most test daemons' configs.
 */
export function loopbackConfig(rest: string): string {
  return `listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
${rest.replace(/^\n/, '')}`;
}

interface Waiter {
  readonly match: (l: LogLine) => boolean;
  readonly resolve: (l: LogLine) => void;
}

/** A daemon child process and its log. */
export class DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly configFile: string;
  #waiters: Waiter[] = [];
  readonly exited: Promise<number | null>;

  private constructor(configFile: string, prefix: readonly string[]) {
    this.configFile = configFile;
    const argv = [...prefix, process.execPath, CLI, 'run', '-c', configFile];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() });
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: `(not json) ${text}` };
      }
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    this.child.stderr!.on('data', (c: Buffer) => this.stderr.push(c.toString()));
  }

  /**
   * Starts `dist/cli.js run` on the YAML text and waits for its 'ready' line. `prefix` runs it
   * under another command, e.g. `['ip', 'netns', 'exec', NAME]` (stop() then signals that
   * command, which passes the signal on by exec'ing node).
   */
  static async start(yaml: string, prefix: readonly string[] = []): Promise<DaemonProcess> {
    const d = new DaemonProcess(writeConfig(yaml), prefix);
    const ready = d.waitFor((l) => l.msg === 'ready');
    const exited = d.exited.then((code) => { throw new Error(`daemon exited with ${code}: ${d.stderr.join('')}`); });
    await Promise.race([ready, exited]);
    return d;
  }

  /** Resolves with the first log line (past or future) matching `match`. */
  waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((res) => this.#waiters.push({ match, resolve: res }));
  }

  /** Resolves once `n` log lines (past or future) satisfy `match`; returns them. */
  async waitForCount(match: (l: LogLine) => boolean, n: number): Promise<LogLine[]> {
    let count = this.lines.filter(match).length;
    while (count < n) {
      const seen = this.lines.length;
      // Wait for the next line of any kind, then count again.
      await new Promise<LogLine>((res) => this.#waiters.push({ match: () => true, resolve: res }));
      count += this.lines.slice(seen).filter(match).length;
    }
    return this.lines.filter(match);
  }

  /** The first access line for which `match` holds, waiting for it. */
  async accessLine(match: (l: LogLine) => boolean): Promise<LogLine> {
    return this.waitFor((l) => l.msg === 'connection' && match(l));
  }

  /** Bound port of the listener configured as `label` ("127.0.0.1:0" gives its real port). */
  listenerPort(index = 0): number {
    const lines = this.lines.filter((l) => l.msg === 'listening');
    const addr = lines[index]?.['address'];
    if (typeof addr !== 'string') throw new Error(`no listener #${index} in the log`);
    return Number(addr.slice(addr.lastIndexOf(':') + 1));
  }

  get metricsUrl(): string {
    const line = this.lines.find((l) => l.msg === 'metrics listening');
    return `http://${String(line?.['address'])}`;
  }

  /** Fetches /metrics and parses it into a map of `name{labels}` → value. */
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch(`${this.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    return parseMetrics(await res.text());
  }

  /** SIGTERM and wait for exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const code = await this.exited;
    rmSync(dirname(this.configFile), { recursive: true, force: true });
    return code;
  }
}

/** Parses Prometheus text exposition (with the daemon's own reader) into values keyed by metric(). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const sample of parseExposition(text)) out.set(metric(sample.name, sample.labels), sample.value);
  return out;
}

/** Builds the key parseMetrics uses: metric('x', {b: '1', a: '2'}) → 'x{a="2",b="1"}'. */
export function metric(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort();
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}
