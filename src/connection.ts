import { isIP, type Socket } from 'node:net';
import { unmapIPv4 } from './config/address.js';
import type { LimitsConfig } from './config/types.js';
import type { OpenConnections } from './open-connections.js';
import { dial, dialOne, DialError, formatAddress, type DialAttempt, type Dialed, type PendingDial } from './connect/dial.js';
import type { ResolverSet } from './connect/resolver-set.js';
import type { CidrSet } from './decide/cidr-set.js';
import { clientKey } from './decide/client-key.js';
import type { Router, Route } from './decide/router.js';
import { screenAnswers } from './decide/special-addresses.js';
import { ForwardError, errorCode, type Outcome } from './errors.js';
import { recordAccess, type LogBudget, type Logger } from './observe/log.js';
import type { Metrics } from './observe/metrics.js';
import { relay, type ClientGate, type DataPath, type RelayEnd } from './relay/pipe.js';
import { httpErrorResponse } from './sniff/http-reply.js';
import { HttpRequestStream, type HttpRefusal, type HttpRequestInfo } from './sniff/http-requests.js';
import { IntakeReader, type Intake } from './sniff/intake.js';
import { ALERT_DECODE_ERROR, ALERT_INTERNAL_ERROR, ALERT_UNRECOGNIZED_NAME, fatalAlertRecord } from './sniff/tls-alert.js';

/** What a connection needs from the daemon; captured at accept, so a reload never touches it. */
export interface ConnectionEnv {
  readonly router: Router;
  /** The configured resolvers; each route names the one it uses. */
  readonly resolvers: ResolverSet;
  readonly limits: LimitsConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Source CIDRs allowed to connect; null = any (clients.allow). */
  readonly clientsAllow: CidrSet | null;
  /** Logs refusals that a flood can cause (client_denied, limit) within a budget. */
  readonly refusalLog: LogBudget;
  /** CIDRs that addresses found by DNS must fall in; null = any not special (upstream_networks). */
  readonly upstreamNetworks: CidrSet | null;
  /** True when addr:port is one of this forwarder's own listening sockets (loop guard). */
  readonly isOwnAddress: (address: string, port: number) => boolean;
  /** Open connections, shared by the daemon (limits, live byte counts, drain). */
  readonly open: OpenConnections;
  /** How relay() moves bytes (chosen once at start: relay/data-path.ts). */
  readonly dataPath: DataPath;
}

/** The listener a connection arrived on. */
export interface ListenerInfo {
  /** The address as configured, e.g. "0.0.0.0:443" (log field). */
  readonly label: string;
  /** The port actually bound; the default upstream port of dynamic routes. */
  readonly port: number;
  /** tls: route by SNI; http: route by the Host of a plain HTTP request. */
  readonly protocol: 'tls' | 'http';
  /** Connections start with a PROXY header (from peers in `proxyFrom`). */
  readonly proxyProtocol: boolean;
  /**
   * Peers allowed (and required) to send the PROXY header. Never "every peer" by default: the
   * config refuses proxy_protocol without proxy_protocol_from (0.0.0.0/0 and ::/0 must be named).
   */
  readonly proxyFrom: CidrSet;
}

type State = 'hello' | 'connecting' | 'relaying' | 'done';

interface FinishDetail {
  readonly reason?: string;
  /** Error code for the access line; expected failures carry no stack trace into the log. */
  readonly code?: string;
  /** Sent to the client before closing (TLS alert or HTTP error response). */
  readonly reply?: Uint8Array;
  /** The side whose error ended the relay (the other was reset in turn). */
  readonly reset?: 'client' | 'upstream';
}

let nextId = 1;
const EMPTY = Buffer.alloc(0);

/**
 * One client connection's lifecycle: sniff → decide → connect → relay → finish, exactly once
 * (SPEC §4). The Connection owns both sockets and destroys them in `finish`.
 */
export class Connection {
  readonly id = nextId++;
  readonly #client: Socket;
  readonly #env: ConnectionEnv;
  readonly #listener: ListenerInfo;
  readonly #startedNs = process.hrtime.bigint();
  #clientLabel: string;
  /** The client's IP address (IPv4-mapped IPv6 unmapped): the ACL and per-client key. */
  #clientAddress: string;
  /** The load balancer's address when a PROXY header named the client; null otherwise. */
  #peerLabel: string | null = null;
  readonly #intake: IntakeReader;
  #state: State = 'hello';
  #timer: NodeJS.Timeout | null = null;
  #host = '';
  #sni: string | null = null;
  #ech = false;
  #upstream: Socket | null = null;
  #upstreamLabel: string | null = null;
  #connectMs: number | null = null;
  #attempts: readonly DialAttempt[] = [];
  #clientErr: Error | null = null;
  /** Cancels the dial when the connection is destroyed while connecting (drain deadline). */
  #pendingDial: PendingDial | null = null;
  /** performance.now() when connecting began: connect_timeout and connectMs count from here. */
  #connectStartMs = 0;
  /** The bytes read before routing, replayed to the upstream. */
  #replay: Buffer = EMPTY;
  #bytesUpCounted = 0;
  #bytesDownCounted = 0;
  /** http listeners: every request on the connection, checked as it comes (null for tls). */
  #requests: HttpRequestStream | null = null;
  /** "host:port" the connection goes to: every later request must go there too (http). */
  #target = '';

  constructor(client: Socket, env: ConnectionEnv, listener: ListenerInfo) {
    this.#client = client;
    // First thing done with a new socket (STYLE §6): a reset must never become an uncaught error.
    client.on('error', (err) => this.#onClientError(err));
    // on(), not once(): 'close' comes at most once, and once() costs a wrapper (issue #18).
    client.on('close', () => {
      if (this.#state === 'hello') this.#finish(this.#intake.readingProxyHeader ? 'bad_proxy_header' : 'not_tls', { reason: this.#closedEarly() });
    });
    this.#env = env;
    this.#listener = listener;
    this.#clientAddress = unmapIPv4(client.remoteAddress ?? '');
    this.#clientLabel = formatAddress(this.#clientAddress, client.remotePort ?? 0);
    // Only trusted peers may (and must) send a PROXY header; others are taken as clients.
    const expectProxy = listener.proxyProtocol && listener.proxyFrom.has(this.#clientAddress);
    this.#intake = new IntakeReader({ protocol: listener.protocol, expectProxy });
  }

  /** Starts reading the ClientHello. */
  start(): void {
    const { limits, metrics, open } = this.#env;
    // Behind a load balancer the client is known only from the PROXY header: the source checks
    // wait for it. Otherwise refuse without reading a byte (SPEC §4.1).
    const proxied = this.#intake.readingProxyHeader;
    if (!proxied && !this.#sourceAllowed()) return;
    if (open.size >= limits.maxConnections) {
      this.#finish('limit', { reason: `max_connections ${limits.maxConnections} reached` });
      return;
    }
    open.add(this);
    metrics.addActive('', 1);
    this.#timer = setTimeout(() => this.#finish('hello_timeout', {
      reason: this.#intake.readingProxyHeader ? 'no complete PROXY header in time' : `no complete ${this.#what} in time`,
    }), limits.clientHelloTimeoutMs);
    const read = (): void => {
      this.#client.on('data', this.#onData);
      this.#client.on('end', this.#onEndBeforeHello);
    };
    if (proxied) read();
    else this.#admitSource(read);
  }

  /** clients.allow for the client address; false (and finished as client_denied) when refused. */
  #sourceAllowed(): boolean {
    const { clientsAllow } = this.#env;
    if (clientsAllow !== null && !clientsAllow.has(this.#clientAddress)) {
      this.#finish('client_denied', { reason: 'source address not in clients.allow' });
      return false;
    }
    return true;
  }

  /**
   * max_connections_per_client: takes a slot under the client's key (its IPv6 network per
   * limits.client_ipv6_prefix) and calls `next`, or finishes as `limit`. In one process this is
   * synchronous; with workers the primary keeps the count and answers over IPC, so `next` runs
   * later, while the connection stays in 'hello' under the hello timer (armed here if the PROXY
   * header already stopped it).
   */
  #admitSource(next: () => void): void {
    const { limits, open } = this.#env;
    const perClient = limits.maxConnectionsPerClient;
    if (perClient === 0) {
      next();
      return;
    }
    const refuse = (): void => this.#finish('limit', { reason: `max_connections_per_client ${perClient} reached` });
    const got = open.acquireSlot(this, clientKey(this.#clientAddress, limits.clientIpv6Prefix), perClient);
    if (typeof got === 'boolean') {
      if (got) next();
      else refuse();
      return;
    }
    const armed = this.#timer === null;
    if (armed) {
      this.#timer = setTimeout(() => this.#finish('hello_timeout', { reason: 'no answer on max_connections_per_client in time' }), limits.clientHelloTimeoutMs);
    }
    // acquireSlot's promise never rejects.
    void got.then((ok) => {
      if (this.#state !== 'hello') return; // finished meanwhile; a late slot was given back
      if (armed && this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
      if (ok) next();
      else refuse();
    });
  }

  /** What the listener waits for, for messages. */
  get #what(): string {
    return this.#listener.protocol === 'tls' ? 'ClientHello' : 'HTTP request head';
  }

  /** Moves the bytes relayed since the last call into the byte counters (live metrics). */
  flushBytes(): void {
    const up = this.#upstream;
    if (up === null || this.#state === 'hello') return;
    const bytesUp = up.bytesWritten;
    const bytesDown = this.#client.bytesWritten;
    const newUp = Math.max(0, bytesUp - this.#bytesUpCounted);
    const newDown = Math.max(0, bytesDown - this.#bytesDownCounted);
    if (newUp > 0 || newDown > 0) this.#env.metrics.addBytes(this.#host, newUp, newDown);
    this.#bytesUpCounted = Math.max(bytesUp, this.#bytesUpCounted);
    this.#bytesDownCounted = Math.max(bytesDown, this.#bytesDownCounted);
  }

  /**
   * Closes both sides now (drain deadline passed); the outcome is what it would have been. A
   * connection still resolving or dialling ends as upstream_unreachable ("shutting down"),
   * with the dial aborted: no upstream was reached, and none will be.
   */
  destroy(): void {
    if (this.#state === 'hello') this.#finish('hello_timeout', { reason: 'shutting down' });
    if (this.#state === 'connecting') {
      // The client is told (alert or 502) as for any upstream it cannot have; #finish flushes it.
      this.#finish('upstream_unreachable', { reason: 'shutting down before the upstream was connected', reply: this.#reply('internal', `cannot reach ${this.#sni ?? ''}: shutting down`) });
      // After #finish: the dial's answer (ABORTED) then finds the connection done and is dropped.
      this.#pendingDial?.cancel();
      this.#pendingDial = null;
      return;
    }
    this.#upstream?.destroy();
    this.#client.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    const r = this.#intake.push(chunk);
    if (r.kind === 'need-more') return;
    this.#stopReading();
    if (r.kind === 'invalid') {
      this.#finish(r.outcome, r.reply === null ? { reason: r.reason } : { reason: r.reason, reply: this.#reply('decode') });
      return;
    }
    const proxy = r.value.proxy;
    if (proxy !== null) {
      if (proxy.command === 'proxy') {
        this.#peerLabel = this.#clientLabel;
        this.#clientAddress = unmapIPv4(proxy.addresses.sourceAddress);
        this.#clientLabel = formatAddress(this.#clientAddress, proxy.addresses.sourcePort);
      }
      if (this.#sourceAllowed()) this.#admitSource(() => this.#sniffed(r.value));
      return;
    }
    this.#sniffed(r.value);
  };

  /** The intake is complete and the source admitted: count the hello and route. */
  #sniffed(intake: Intake): void {
    if (this.#listener.protocol === 'tls') this.#env.metrics.clientHelloBytes.observe(intake.helloBytes);
    this.#route(intake);
  }

  readonly #onEndBeforeHello = (): void => {
    this.#stopReading();
    this.#finish(this.#intake.readingProxyHeader ? 'bad_proxy_header' : 'not_tls', { reason: this.#closedEarly() });
  };

  #closedEarly(): string {
    return `client closed before a complete ${this.#intake.readingProxyHeader ? 'PROXY header' : this.#what}`;
  }

  /** The refusal a client gets: a fatal TLS alert, or a one-line HTTP error response. */
  #reply(kind: 'unrecognized' | 'internal' | 'decode', detail = ''): Uint8Array {
    if (this.#listener.protocol === 'tls') {
      return fatalAlertRecord(kind === 'unrecognized' ? ALERT_UNRECOGNIZED_NAME : kind === 'internal' ? ALERT_INTERNAL_ERROR : ALERT_DECODE_ERROR);
    }
    if (kind === 'unrecognized') return httpErrorResponse(421, `sni-forwarder: ${detail}`);
    if (kind === 'internal') return httpErrorResponse(502, `sni-forwarder: ${detail}`);
    return httpErrorResponse(400, `sni-forwarder: ${detail === '' ? 'malformed request' : detail}`);
  }

  #stopReading(): void {
    this.#client.pause();
    this.#client.off('data', this.#onData);
    this.#client.off('end', this.#onEndBeforeHello);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #onClientError(err: Error): void {
    this.#clientErr ??= err;
    // While relaying, relay() owns error handling; while connecting, the dial finishes first and
    // relay() then sees a destroyed client. Before that, a client error ends the connection.
    if (this.#state === 'hello') {
      this.#stopReading();
      this.#finish(this.#intake.readingProxyHeader ? 'bad_proxy_header' : 'not_tls', { reason: this.#closedEarly(), code: errorCode(err) });
    }
  }

  #route(intake: Intake): void {
    this.#ech = intake.ech;
    const sni = intake.name;
    if (sni === null) {
      const reason = intake.nameError ?? 'no name to route by';
      this.#finish('no_sni', { reason, reply: this.#listener.protocol === 'tls' ? this.#reply('unrecognized') : this.#reply('decode', reason) });
      return;
    }
    this.#sni = sni;
    const route = this.#env.router.match(sni);
    if (route === undefined) {
      this.#finish('not_allowed', { reason: 'no route matches the server name', reply: this.#reply('unrecognized', `host ${sni} is not allowed`) });
      return;
    }
    this.#replay = intake.replay;
    const { metrics } = this.#env;
    metrics.addActive('', -1);
    this.#host = route.pattern;
    metrics.addActive(this.#host, 1);
    this.#state = 'connecting';
    this.#connect(route, sni);
  }

  /** Where a route sends a name: the static upstream, or the name on the route's/listener's port. */
  #targetOf(route: Route, name: string): { host: string; port: number } {
    return { host: route.upstream?.host ?? name, port: route.upstream?.port ?? route.port ?? this.#listener.port };
  }

  /**
   * http listeners: every request on the connection, the first one included, must be for an
   * allowed host that goes to the same upstream as the connection; otherwise it is refused from
   * that request on (issue 14: a keep-alive or pipelined request must not reach another host).
   */
  #checkRequest(request: HttpRequestInfo): HttpRefusal | null {
    const { index, host } = request;
    if (host === null) return { status: 400, outcome: 'no_sni', reason: `request ${index}: ${request.hostError ?? 'no Host header'}` };
    const route = this.#env.router.match(host);
    if (route === undefined) return { status: 421, outcome: 'not_allowed', reason: `request ${index}: host ${host} is not allowed` };
    const target = this.#targetOf(route, host);
    if (formatAddress(target.host, target.port) !== this.#target) {
      return { status: 421, outcome: 'not_allowed', reason: `request ${index}: host ${host} goes to ${formatAddress(target.host, target.port)}, not to this connection's ${this.#target}` };
    }
    return null;
  }

  /** The relay's check of client bytes on http listeners; null for tls. */
  #clientGate(): ClientGate | null {
    if (this.#listener.protocol !== 'http') return null;
    const requests = new HttpRequestStream((r) => this.#checkRequest(r));
    this.#requests = requests;
    return {
      admit: (chunk) => requests.admit(chunk),
      reply: () => {
        const refusal = requests.refusal;
        return refusal === null ? EMPTY : httpErrorResponse(refusal.status, `sni-forwarder: ${refusal.reason}`);
      },
    };
  }

  /**
   * Resolves the route's upstream (a static IP goes straight on), applies the special-address
   * rules and the loop guard, and dials within connect_timeout; ends in relay() or #finish.
   * Callbacks rather than async/await: per connection that saved two promises and their awaits
   * (issue #18).
   */
  #connect(route: Route, sni: string): void {
    const { host, port } = this.#targetOf(route, sni);
    this.#target = formatAddress(host, port);
    this.#connectStartMs = performance.now();
    // resolver.resolve answers an IP literal with itself and counts no lookup: skip its promise.
    if (isIP(host) !== 0) {
      this.#dial(host, [host], port, sni);
      return;
    }
    this.#env.resolvers.get(route.resolver).resolve(host).then(
      (resolved) => {
        if (this.#state !== 'connecting') return; // finished meanwhile (drain deadline)
        // A DNS answer is not trusted to pick any internal address; a static IP is the operator's.
        const screened = screenAnswers(host, resolved, this.#env.upstreamNetworks);
        if (!screened.ok) {
          this.#upstreamLabel = formatAddress(resolved[0] ?? host, port);
          this.#connectFailed(new ForwardError('not_allowed', screened.reason), sni);
          return;
        }
        this.#dial(host, screened.addresses, port, sni);
      },
      (err: unknown) => this.#connectFailed(err, sni),
    );
  }

  /** The loop guard, then one dial (happy eyeballs when there are several addresses). */
  #dial(host: string, resolved: readonly string[], port: number, sni: string): void {
    const { limits, isOwnAddress } = this.#env;
    const addresses = resolved.filter((a) => !isOwnAddress(a, port));
    const [only] = addresses;
    if (only === undefined) {
      this.#upstreamLabel = formatAddress(resolved[0] ?? host, port);
      this.#connectFailed(new ForwardError('loop', `${host} resolves to this forwarder's own listener`), sni);
      return;
    }
    const timeoutMs = Math.max(1, limits.connectTimeoutMs - (performance.now() - this.#connectStartMs));
    const done = (result: Dialed | DialError): void => {
      this.#pendingDial = null;
      if (result instanceof DialError) this.#connectFailed(result, sni);
      else this.#dialed(result, port);
    };
    if (addresses.length === 1) {
      this.#pendingDial = dialOne(only, port, timeoutMs, done);
      return;
    }
    const abort = new AbortController();
    this.#pendingDial = { cancel: () => abort.abort() };
    dial(addresses, port, timeoutMs, abort.signal).then(done, (err: unknown) => {
      if (err instanceof DialError) done(err);
      else this.#connectFailed(err, sni);
    });
  }

  #dialed(dialed: Dialed, port: number): void {
    const { limits, metrics } = this.#env;
    this.#attempts = dialed.attempts;
    this.#connectMs = performance.now() - this.#connectStartMs;
    metrics.observeUpstreamConnect(this.#host, this.#connectMs / 1000);
    this.#upstream = dialed.socket;
    this.#upstreamLabel = formatAddress(dialed.address, port);
    if (this.#state !== 'connecting') {
      dialed.socket.destroy(); // finished meanwhile (drain deadline)
      return;
    }
    this.#state = 'relaying';
    const replay = this.#replay;
    this.#replay = EMPTY; // the relay owns the bytes now; do not keep them for the connection's life
    relay(this.#client, dialed.socket, replay, limits.idleTimeoutMs, (end) => this.#relayEnded(end), this.#env.dataPath, this.#clientGate());
  }

  /** Ends a connection whose upstream could not be had; anything but a ForwardError is a bug. */
  #connectFailed(err: unknown, sni: string): void {
    if (err instanceof DialError) {
      this.#attempts = err.attempts;
      this.#upstreamLabel = err.attempts.at(-1)?.address ?? null;
    }
    if (!(err instanceof ForwardError)) throw err; // a bug: let the process crash (STYLE §3)
    const reply = this.#reply(err.outcome === 'not_allowed' ? 'unrecognized' : 'internal', err.outcome === 'not_allowed' ? `host ${sni} is not allowed` : `cannot reach ${sni}: ${err.outcome}`);
    const detail = { reason: err.message, ...(err.cause === undefined ? {} : { code: errorCode(err.cause) }) };
    this.#finish(err.outcome, { ...detail, reply });
  }

  #relayEnded(end: RelayEnd): void {
    const refusal = this.#requests?.refusal ?? null;
    if (refusal !== null) {
      // The requests before it went through; the refused one decides the outcome. Its answer
      // was sent by the relay, after the upstream's last byte.
      this.#finish(refusal.outcome, end.kind === 'error' ? { reason: refusal.reason, code: errorCode(end.err) } : { reason: refusal.reason });
      return;
    }
    switch (end.kind) {
      case 'closed':
        this.#finish('forwarded', this.#clientErr === null ? {} : { reason: 'client error while connecting', code: errorCode(this.#clientErr) });
        return;
      case 'idle':
        this.#finish('forwarded', { reason: 'idle_timeout' });
        return;
      case 'error':
        this.#finish('forwarded', { reason: `${end.side} error: ${end.err.message}`, code: errorCode(end.err), reset: end.side });
        return;
    }
  }

  /** Ends the connection exactly once: timers, sockets, metrics, access line. */
  #finish(outcome: Outcome, detail: FinishDetail): void {
    if (this.#state === 'done') return;
    const wasOpen = this.#env.open.delete(this);
    this.#state = 'done';
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    if (detail.reply !== undefined && client.writable) {
      // destroySoon: FIN after the reply is flushed, then close, without waiting for the client.
      client.write(detail.reply);
      client.destroySoon();
    } else {
      client.destroy();
    }
    this.#upstream?.destroy();
    this.#requests?.close();
    this.flushBytes();
    const { metrics, log } = this.#env;
    if (wasOpen) metrics.addActive(this.#host, -1);
    const refusal = outcome === 'client_denied' || outcome === 'limit';
    const quiet = refusal && !this.#env.refusalLog.allow();
    recordAccess(quiet ? null : log, metrics, {
      conn: this.id,
      client: this.#clientLabel,
      peer: this.#peerLabel,
      listener: this.#listener.label,
      sni: this.#sni,
      ech: this.#ech,
      host: this.#host,
      upstream: this.#upstreamLabel,
      outcome,
      bytesUp: this.#bytesUpCounted,
      bytesDown: this.#bytesDownCounted,
      durationMs: roundMs(Number(process.hrtime.bigint() - this.#startedNs) / 1e6),
      connectMs: this.#connectMs === null ? null : roundMs(this.#connectMs),
      reason: detail.reason ?? null,
      code: detail.code ?? null,
      reset: detail.reset ?? null,
      attempts: this.#attempts,
    }, refusal ? this.#env.refusalLog : undefined);
  }
}

/** Milliseconds to 3 decimals (microseconds): enough for the log, without float noise. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

