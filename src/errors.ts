/** How a connection ended; spelled the same in code, logs and metrics (SPEC §4.3). */
export type Outcome =
  | 'forwarded'
  | 'client_denied'
  | 'not_tls'
  | 'no_sni'
  | 'not_allowed'
  | 'hello_timeout'
  | 'dns_failure'
  | 'upstream_unreachable'
  | 'loop'
  | 'limit'
  | 'bad_proxy_header';

/** Every outcome, in a stable order (metrics pre-register these label values). */
export const OUTCOMES: readonly Outcome[] = [
  'forwarded',
  'client_denied',
  'not_tls',
  'no_sni',
  'not_allowed',
  'hello_timeout',
  'dns_failure',
  'upstream_unreachable',
  'loop',
  'limit',
  'bad_proxy_header',
];

/**
 * Outcomes where the forwarder said yes but the upstream could not be reached: failures, which
 * point at DNS or the network. Every other outcome but `forwarded` is a refusal: the policy, a
 * limit or the client's own bytes said no (issue #16: the status views keep the two apart).
 */
export const FAILURE_OUTCOMES: readonly Outcome[] = ['dns_failure', 'upstream_unreachable'];

/** A connection that cannot be forwarded; carries the outcome it ends with. */
export class ForwardError extends Error {
  override name = 'ForwardError';
  constructor(
    readonly outcome: Exclude<Outcome, 'forwarded'>,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One problem in a configuration file, located by file, line, column and key path. */
export interface ConfigProblem {
  readonly file: string;
  /** 1-based; 0 (with col 0) for a problem with the whole file (unreadable, not text). */
  readonly line: number;
  readonly col: number;
  /** Key path such as `routes[1].upstream`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** An invalid configuration; `message` lists every problem as `file:line:col: path: message`. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }
  /** Location of the first problem (most callers only show the first one's position). */
  get file(): string { return this.problems[0]?.file ?? ''; }
  get line(): number { return this.problems[0]?.line ?? 0; }
  get col(): number { return this.problems[0]?.col ?? 0; }
  get path(): string { return this.problems[0]?.path ?? ''; }
}

/** Longest key path printed; a longer one (a garbled multi-line key) is cut with "…". */
const MAX_PATH_CHARS = 80;

/**
 * Formats a problem the way editors and `check` print it: always one line. Keys and values come
 * from the file, so control characters are escaped and an overlong path is cut.
 */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === 0 ? p.file : `${p.file}:${p.line}:${p.col}`;
  const path = p.path.length > MAX_PATH_CHARS ? `${p.path.slice(0, MAX_PATH_CHARS)}…` : p.path;
  return oneLine(path === '' ? `${where}: ${p.message}` : `${where}: ${path}: ${p.message}`);
}

/** Escapes C0 control characters and DEL the way JSON does, so the text stays on one line. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    const escaped = JSON.stringify(c).slice(1, -1);
    return escaped === c ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : escaped; // DEL
  });
}

/** The `code` of a Node system error (ECONNREFUSED, ETIMEDOUT, ...), or 'EFAIL' when it has none. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return 'EFAIL';
}

/**
 * A mistake in how the daemon was started (an environment variable with a bad value), not a
 * bug: `run` reports it like a config error, as one sentence without a stack trace.
 */
export class SetupError extends Error {
  override name = 'SetupError';
}
