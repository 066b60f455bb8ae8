// A long-running server process started by an integration test (registry, nginx, dockerd).
import { spawn, type ChildProcess } from 'node:child_process';

/** A child process whose stderr+stdout lines are kept, with a wait for a matching line. */
export class Child {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];

  constructor(readonly name: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env }) });
    this.exited = new Promise((res) => this.proc.once('exit', (code) => res(code)));
    let buffered = '';
    const onData = (c: Buffer): void => {
      buffered += c.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      this.lines.push(...parts);
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
  }

  /** Resolves when a line containing `text` has been printed; rejects if the process exits first. */
  async waitForLine(text: string): Promise<void> {
    const exited = this.exited.then((code) => { throw new Error(`${this.name} exited with ${String(code)}:\n${this.lines.join('\n')}`); });
    const seen = (async (): Promise<void> => {
      while (!this.lines.some((l) => l.includes(text))) await new Promise<void>((res) => this.#waiters.push(res));
    })();
    await Promise.race([seen, exited]);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    await this.exited;
  }
}
