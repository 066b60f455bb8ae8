// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: the
// browser reads commands on fd 3 and writes answers on fd 4, each a JSON text ended by "\0").
// No WebSocket and no port: nothing but the page's own loopback address is reached. Used to
// measure the status page as a browser lays it out (issue #16: no horizontal overflow).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = '/usr/bin/chromium';

type Json = Record<string, unknown>;

interface Pending {
  readonly resolve: (result: Json) => void;
  readonly reject: (err: Error) => void;
}

/** A browser with one page; every command has a timeout, and close() ends the process. */
export class Chromium {
  readonly #child: ChildProcess;
  readonly #in: Writable;
  readonly #profile: string;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #events: { method: string; sessionId: string | undefined; resolve: (params: Json) => void }[] = [];
  #session: string | undefined;
  readonly exited: Promise<void>;

  private constructor() {
    this.#profile = mkdtempSync(join(tmpdir(), 'sni-fwd-cdp-'));
    this.#child = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--no-default-browser-check',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-domain-reliability',
      '--disable-breakpad', '--no-pings', '--hide-scrollbars=false', `--user-data-dir=${this.#profile}`,
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1', '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.#child.stderr?.resume();
    this.#in = this.#child.stdio[3] as Writable;
    const out = this.#child.stdio[4] as Readable;
    let buffered = '';
    out.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let end: number;
      while ((end = buffered.indexOf('\0')) !== -1) {
        this.#dispatch(JSON.parse(buffered.slice(0, end)) as Json);
        buffered = buffered.slice(end + 1);
      }
    });
    this.exited = new Promise((resolve) => this.#child.on('exit', () => {
      for (const p of this.#pending.values()) p.reject(new Error('chromium exited'));
      this.#pending.clear();
      resolve();
    }));
    this.#in.on('error', () => {}); // the browser went away; pending commands are rejected above
  }

  /** Starts Chromium and opens a page whose viewport is `width` x `height` CSS pixels. */
  static async open(width: number, height: number): Promise<Chromium> {
    const c = new Chromium();
    const { targetId } = await c.send('Target.createTarget', { url: 'about:blank' }, null) as { targetId: string };
    const { sessionId } = await c.send('Target.attachToTarget', { targetId, flatten: true }, null) as { sessionId: string };
    c.#session = sessionId;
    await c.send('Page.enable');
    await c.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    return c;
  }

  #dispatch(m: Json): void {
    if (typeof m['id'] === 'number') {
      const p = this.#pending.get(m['id']);
      this.#pending.delete(m['id']);
      const error = m['error'] as { message?: string } | undefined;
      if (error !== undefined) p?.reject(new Error(`DevTools: ${error.message ?? 'error'}`));
      else p?.resolve((m['result'] ?? {}) as Json);
      return;
    }
    const method = m['method'];
    const sessionId = typeof m['sessionId'] === 'string' ? m['sessionId'] : undefined;
    this.#events = this.#events.filter((w) => {
      if (w.method !== method || w.sessionId !== sessionId) return true;
      w.resolve((m['params'] ?? {}) as Json);
      return false;
    });
  }

  /** Sends a command to the page (or, with `session` null, to the browser); rejects after `timeoutMs`. */
  send(method: string, params: Json = {}, session: string | null | undefined = this.#session, timeoutMs = 30_000): Promise<Json> {
    const id = this.#nextId++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`DevTools: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.#in.write(`${JSON.stringify({ id, method, params, ...(session === null || session === undefined ? {} : { sessionId: session }) })}\0`);
    });
  }

  /** Resolves with the next event `method` of the page. */
  event(method: string): Promise<Json> {
    return new Promise((resolve) => this.#events.push({ method, sessionId: this.#session, resolve }));
  }

  /** Loads `url` and waits for its load event. */
  async load(url: string): Promise<void> {
    const loaded = this.event('Page.loadEventFired');
    const nav = await this.send('Page.navigate', { url }) as { errorText?: string };
    if (nav.errorText !== undefined) throw new Error(`navigation to ${url} failed: ${nav.errorText}`);
    await loaded;
  }

  /** Evaluates `expression` in the page (DevTools evaluation is not subject to the page's CSP) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true }) as { result: { value: T }; exceptionDetails?: unknown };
    if (r.exceptionDetails !== undefined) throw new Error(`evaluation failed: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    const r = await this.send('Page.captureScreenshot', { format: 'png' }) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      await this.send('Browser.close', {}, null, 5000).catch(() => this.#child.kill('SIGKILL'));
    }
    await this.exited;
    rmSync(this.#profile, { recursive: true, force: true });
  }
}
