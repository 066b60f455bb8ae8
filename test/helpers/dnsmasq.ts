// A real DNS server for tests: Debian's dnsmasq on a loopback address and a high port, answering
// only for the names the test gives it, with its query log readable by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

export interface DnsmasqOptions {
  /** name → IPv4 and IPv6 addresses. */
  readonly records: Readonly<Record<string, readonly string[]>>;
  /** TTL dnsmasq gives its answers, seconds. */
  readonly ttlSeconds: number;
  /** Domain dnsmasq owns (unknown names there are NXDOMAIN, not REFUSED). */
  readonly domain: string;
  readonly address?: string;
  /** Network namespace to run in (test/helpers/netns.ts); absent = the host's. */
  readonly netns?: string;
}

async function freeUdpPort(address: string): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, address);
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

export class Dnsmasq {
  readonly address: string;
  readonly port: number;
  readonly log: string[] = [];
  #child: ChildProcess | null = null;
  #logWaiters: (() => void)[] = [];
  #opts: DnsmasqOptions;

  private constructor(opts: DnsmasqOptions, address: string, port: number) {
    this.#opts = opts;
    this.address = address;
    this.port = port;
  }

  static async start(opts: DnsmasqOptions): Promise<Dnsmasq> {
    const address = opts.address ?? '127.0.0.77';
    const d = new Dnsmasq(opts, address, await freeUdpPort(address));
    await d.restart();
    return d;
  }

  /** "ip:port" for resolver.servers. */
  get server(): string {
    return `${this.address}:${this.port}`;
  }

  /** Starts (or starts again after stop()) and waits until it answers. */
  async restart(): Promise<void> {
    const args = ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
      `--listen-address=${this.address}`, `--port=${this.port}`, '--log-queries', '--log-facility=-',
      `--local=/${this.#opts.domain}/`, `--local-ttl=${this.#opts.ttlSeconds}`, '--pid-file=', '--conf-file=/dev/null'];
    if (process.getuid?.() === 0) args.push('--user=root');
    // --address (not --host-record) so a name can have several addresses of one family; it also
    // answers for subdomains, which no test relies on.
    for (const [name, addrs] of Object.entries(this.#opts.records)) {
      for (const a of addrs) args.push(`--address=/${name}/${a}`);
    }
    // `ip netns exec` execs dnsmasq itself, so stop()'s signal reaches it.
    const [cmd, ...argv] = this.#opts.netns === undefined ? ['dnsmasq', ...args] : ['ip', 'netns', 'exec', this.#opts.netns, 'dnsmasq', ...args];
    const child = spawn(cmd ?? 'dnsmasq', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let buffered = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (c: Buffer): void => {
        buffered += c.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const l of lines) {
          this.log.push(l);
          if (l.includes('cleared cache')) resolve();
        }
        const waiters = this.#logWaiters;
        this.#logWaiters = [];
        for (const w of waiters) w();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`dnsmasq exited with ${code}: ${this.log.join('\n')}`)));
    });
    await ready;
  }

  /** Queries logged for `name` and type (A or AAAA). */
  queries(name: string, type = 'A'): number {
    return this.log.filter((l) => l.includes(`query[${type}] ${name} `)).length;
  }

  /** Resolves once `count` queries for `name` (type A by default) have been logged. */
  async waitForQueries(name: string, count: number, type = 'A'): Promise<void> {
    while (this.queries(name, type) < count) await new Promise<void>((res) => this.#logWaiters.push(res));
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
    this.#child = null;
  }
}
