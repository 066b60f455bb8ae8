// Every request of a plain-HTTP connection, for `protocol: http` listeners: the intake routes by
// the first request's head, but a keep-alive or pipelined client can send more requests on the
// same connection, each with its own Host. This splits the client's byte stream into requests
// with Node's own HTTP/1.1 parser (llhttp, the one node:http uses) so that bodies, chunked
// encoding and pipelining are framed exactly as an HTTP server frames them, and asks `check`
// about each request head before its last byte is let through.
//
// Why Node's internal HTTPParser and not node:http itself: http.Server consumes a socket and
// re-serialises what it parsed, while the forwarder must pass the client's bytes on unchanged.
// The parser is reached the way node:http reaches it (`_http_common`, present in every Node
// line since 0.x). No published package parses a request stream this way.
//
// Where each request ends, llhttp does not report to JavaScript, so each message is read in two
// phases on one parser:
// - head: the parser reads from where the request starts; its headers-complete callback answers
//   2 ("no body, treat as upgrade"), which makes llhttp stop right after the head, so execute()
//   returns the exact length of the head (node:http's client uses the same answer);
// - body: the parser is given a made-up head with the request's own framing fields
//   (Content-Length, Transfer-Encoding, HTTP version) plus `Connection: close`, then the real
//   body bytes. llhttp frames the body as it would the real request, and the first byte after
//   it is "data after Connection: close": an error at that byte, whose position gives the end.
// Pure: bytes in, decisions out; no I/O, timers or logging.

import { createRequire } from 'node:module';
import { MAX_HTTP_HEAD_BYTES, requestHost } from './http-host.js';

/** One request head as the check sees it. */
export interface HttpRequestInfo {
  /** 1 for the request the connection was routed by, then 2, 3, ... */
  readonly index: number;
  readonly method: string;
  readonly target: string;
  /** The host it is for (absolute-form target or Host header), normalised; null if none/unusable. */
  readonly host: string | null;
  readonly hostError: string | null;
  /** CONNECT, or an Upgrade request: the bytes after it would not be HTTP any more. */
  readonly upgrade: boolean;
}

/** Why the connection is refused from a request on, and what the client is told. */
export interface HttpRefusal {
  readonly status: 400 | 421;
  readonly outcome: 'not_allowed' | 'no_sni' | 'not_tls';
  readonly reason: string;
}

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number): void;
  execute(data: Buffer): number | (Error & { code?: string; bytesParsed?: number; reason?: string });
  close(): void;
  [key: number]: unknown;
}

interface NodeHttpParserClass {
  new (): NodeHttpParser;
  readonly REQUEST: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnMessageComplete: number;
}

const httpCommon = createRequire(import.meta.url)('_http_common') as { HTTPParser: NodeHttpParserClass; methods: readonly string[] };
const { HTTPParser, methods: METHODS } = httpCommon;

/** What the headers-complete callback answers to stop llhttp right after a head (see above). */
const STOP_AFTER_HEAD = 2;
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding']);
const CLOSED_AFTER_MESSAGE = 'HPE_CLOSED_CONNECTION';

interface Head {
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly headers: readonly string[];
  readonly method: string;
  readonly url: string;
  readonly upgrade: boolean;
}

/**
 * Splits a client's byte stream into HTTP/1.1 requests and refuses the first one `check` does
 * not accept (or that is malformed): `admit(chunk)` answers how many bytes of the chunk may be
 * forwarded. Every byte before the refused request goes on; of the refused request, not even
 * its head's last byte does, so the upstream never sees it whole. After a refusal nothing more
 * is admitted.
 */
export class HttpRequestStream {
  readonly #check: (request: HttpRequestInfo) => HttpRefusal | null;
  readonly #parser: NodeHttpParser = new HTTPParser();
  #phase: 'head' | 'body' = 'head';
  #requests = 0;
  #refusal: HttpRefusal | null = null;
  /** Filled by the parser's callbacks during execute(). */
  #head: Head | null = null;
  #partialHeaders: string[] = [];
  #partialUrl = '';
  #messageComplete = false;
  #closed = false;

  constructor(check: (request: HttpRequestInfo) => HttpRefusal | null) {
    this.#check = check;
    const p = this.#parser;
    // More than 32 fields arrive in pieces first (node:http's parserOnHeaders does the same).
    p[HTTPParser.kOnHeaders] = (headers: string[], url: string): void => {
      this.#partialHeaders.push(...headers);
      this.#partialUrl += url;
    };
    p[HTTPParser.kOnHeadersComplete] = (versionMajor: number, versionMinor: number, headers: string[] | undefined,
      method: number, url: string | undefined, _status: unknown, _message: unknown, upgrade: boolean): number => {
      this.#head = {
        versionMajor,
        versionMinor,
        headers: headers ?? this.#partialHeaders,
        method: METHODS[method] ?? '?',
        url: url ?? this.#partialUrl,
        upgrade,
      };
      this.#partialHeaders = [];
      this.#partialUrl = '';
      return this.#phase === 'head' ? STOP_AFTER_HEAD : 0;
    };
    p[HTTPParser.kOnMessageComplete] = (): void => {
      this.#messageComplete = true;
    };
    this.#startHead();
  }

  /** Requests whose head was read so far. */
  get requests(): number {
    return this.#requests;
  }

  /** Why the stream was refused, once it was. */
  get refusal(): HttpRefusal | null {
    return this.#refusal;
  }

  /** How many bytes at the start of `chunk` may be forwarded (all, unless a request is refused). */
  admit(chunk: Buffer): number {
    if (this.#refusal !== null || this.#closed) return 0;
    let pos = 0;
    /** Where the current request's head started in this chunk; 0 if in an earlier chunk. */
    let headStart = 0;
    while (pos < chunk.length) {
      if (this.#phase === 'head') {
        const r = this.#parser.execute(chunk.subarray(pos));
        if (typeof r !== 'number') return this.#refuse(headStart, 400, 'not_tls', `request ${this.#requests + 1} is malformed: ${parseProblem(r)}`);
        const head = this.#head;
        if (head === null) return chunk.length; // the head goes on in the next chunk
        pos += r;
        const refusal = this.#onHead(head);
        if (refusal !== null) return this.#refuse(headStart, refusal.status, refusal.outcome, refusal.reason);
        const body = this.#startBody(head);
        if (body !== null) return this.#refuse(headStart, 400, 'not_tls', `request ${this.#requests} is malformed: ${body}`);
        if (this.#messageComplete) this.#startHead();
        headStart = pos;
      } else {
        const r = this.#parser.execute(chunk.subarray(pos));
        if (typeof r === 'number') {
          if (!this.#messageComplete) return chunk.length; // the body goes on in the next chunk
          pos = chunk.length; // only CR/LF after it, which llhttp skips
          this.#startHead();
        } else if (r.code === CLOSED_AFTER_MESSAGE && this.#messageComplete && (r.bytesParsed ?? 0) >= 1) {
          // llhttp reports the byte after the body's end, plus the one it skipped (see above).
          pos += (r.bytesParsed ?? 1) - 1;
          headStart = pos;
          this.#startHead();
        } else {
          return this.#refuse(pos, 400, 'not_tls', `request ${this.#requests} has a malformed body: ${parseProblem(r)}`);
        }
      }
    }
    return chunk.length;
  }

  /** Releases the parser; admit() answers 0 afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#parser.close();
  }

  #onHead(head: Head): HttpRefusal | null {
    this.#requests += 1;
    const index = this.#requests;
    if (head.upgrade) {
      return { status: 400, outcome: 'not_tls', reason: `request ${index} asks for a protocol switch (${head.method === 'CONNECT' ? 'CONNECT' : 'Upgrade'}), which an http listener does not forward` };
    }
    const hostValues: Uint8Array[] = [];
    for (let i = 0; i + 1 < head.headers.length; i += 2) {
      if (head.headers[i]?.toLowerCase() === 'host') hostValues.push(Buffer.from(head.headers[i + 1] ?? '', 'latin1'));
    }
    const { host, hostError } = requestHost(head.url, hostValues);
    return this.#check({ index, method: head.method, target: head.url, host, hostError, upgrade: head.upgrade });
  }

  #startHead(): void {
    this.#phase = 'head';
    this.#head = null;
    this.#messageComplete = false;
    this.#parser.initialize(HTTPParser.REQUEST, {}, MAX_HTTP_HEAD_BYTES);
  }

  /** Gives the parser the request's framing (see the top of the file); a problem, or null. */
  #startBody(head: Head): string | null {
    this.#phase = 'body';
    this.#head = null;
    this.#messageComplete = false;
    this.#parser.initialize(HTTPParser.REQUEST, {});
    let framing = '';
    for (let i = 0; i + 1 < head.headers.length; i += 2) {
      const name = head.headers[i] ?? '';
      if (FRAMING_FIELDS.has(name.toLowerCase())) framing += `${name}: ${head.headers[i + 1] ?? ''}\r\n`;
    }
    const synthetic = Buffer.from(`POST / HTTP/${head.versionMajor}.${head.versionMinor}\r\n${framing}Connection: close\r\n\r\n`, 'latin1');
    const r = this.#parser.execute(synthetic);
    return typeof r === 'number' && this.#head !== null ? null : parseProblem(r);
  }

  #refuse(cut: number, status: 400 | 421, outcome: HttpRefusal['outcome'], reason: string): number {
    this.#refusal = { status, outcome, reason };
    return cut;
  }
}

function parseProblem(r: number | (Error & { code?: string; reason?: string })): string {
  if (typeof r === 'number') return 'the parser did not accept the framing fields';
  return r.reason ?? r.code ?? r.message;
}
