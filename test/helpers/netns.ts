// A private network for tests that need a "blackhole" address (SYNs silently dropped, so a
// connect hangs instead of being refused): a network namespace the test creates itself, with
// its own loopback and its own nftables table. The host's firewall and routes are never touched.
import { spawn, type ChildProcess } from 'node:child_process';

/** What a finished command printed and how it exited (code null: killed or not started). */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A network namespace owned by one test; remove() it in t.teardown. */
export interface Netns {
  readonly name: string;
  /** Spawns `cmd args` inside the namespace (via `ip netns exec`); remove() kills it if still running. */
  exec(cmd: string, args: readonly string[]): ChildProcess;
  /** Runs `cmd args` inside the namespace to completion (killed after RUN_TIMEOUT_MS). */
  run(cmd: string, args: readonly string[]): Promise<RunResult>;
  /** Makes TCP connects to `address` (IPv4 or IPv6) hang: the namespace drops the outgoing SYNs. */
  dropSyn(address: string): Promise<void>;
  /** Kills what exec() started and is still running, then deletes the namespace. Idempotent. */
  remove(): Promise<void>;
}

const RUN_TIMEOUT_MS = 30_000;
const TABLE = 'sni_forwarder_test';
let counter = 0;

/** Runs a command on the host to completion; a command that cannot start gives code null. */
function run(cmd: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // 'error' (ENOENT, EACCES) comes instead of 'close' when the command never started.
    child.once('error', (err) => resolve({ code: null, stdout, stderr: stderr + err.message }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function check(cmd: string, args: readonly string[]): Promise<string | null> {
  const r = await run(cmd, args);
  return r.code === 0 ? null : `${[cmd, ...args].join(' ')}: ${r.stderr.trim() || `exit ${String(r.code)}`}`;
}

/**
 * Creates namespace `<prefix>-<pid>-<n>` with `lo` up and an nftables output chain ready for
 * dropSyn(). Resolves `{ unavailable: reason }` (for t.skip) when not root, when `ip` or `nft`
 * is missing, or when the namespace cannot be set up; nothing is left behind in that case.
 */
export async function createNetns(prefix: string): Promise<Netns | { unavailable: string }> {
  if (process.getuid?.() !== 0) return { unavailable: 'network namespaces need root' };
  const missing = (await check('ip', ['-V'])) ?? (await check('nft', ['--version']));
  if (missing !== null) return { unavailable: `iproute2 and nftables are needed: ${missing}` };

  const name = `${prefix}-${process.pid}-${counter++}`;
  const added = await check('ip', ['netns', 'add', name]);
  if (added !== null) return { unavailable: added };

  const children = new Set<ChildProcess>();
  let removed = false;
  const inside = (cmd: string, args: readonly string[]): string[] => ['netns', 'exec', name, cmd, ...args];
  const ns: Netns = {
    name,
    exec(cmd, args) {
      // `ip netns exec` execs the command itself, so killing this child kills the command.
      const child = spawn('ip', inside(cmd, args));
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    run: (cmd, args) => run('ip', inside(cmd, args)),
    async dropSyn(address) {
      const family = address.includes(':') ? 'ip6' : 'ip';
      // Only the opening SYN: the rest of the namespace's traffic is untouched.
      const rule = `add rule inet ${TABLE} output ${family} daddr ${address} tcp flags & (syn | ack) == syn drop`;
      const failed = await check('ip', inside('nft', [rule]));
      if (failed !== null) throw new Error(failed);
    },
    async remove() {
      if (removed) return;
      removed = true;
      for (const child of children) child.kill('SIGKILL');
      const failed = await check('ip', ['netns', 'del', name]);
      if (failed !== null) throw new Error(failed);
    },
  };

  const setup = (await check('ip', inside('ip', ['link', 'set', 'lo', 'up'])))
    ?? (await check('ip', inside('nft', [`add table inet ${TABLE}`])))
    ?? (await check('ip', inside('nft', [`add chain inet ${TABLE} output { type filter hook output priority 0 ; policy accept ; }`])));
  if (setup !== null) {
    await ns.remove();
    return { unavailable: setup };
  }
  return ns;
}
