// Reading the config file's bytes as text, with the reasons an operator can act on when that
// fails (issue #16): no such file, a directory, a mode the service's user cannot read, or
// bytes that are not YAML text at all. Every failure is a ConfigError about the whole file (no
// line and column: there is no position to point at).
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { ConfigError, errorCode } from '../errors.js';

/**
 * Reads `file` as UTF-8 text. Rejects with a one-problem ConfigError saying why not: "no such
 * file", "is a directory", "not readable by user X; ...", "not a YAML text file (...)".
 */
export async function readConfigText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config: ${unreadableReason(err)}` }], { cause: err });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: 'not a YAML text file (not valid UTF-8): is it the right file?' }], { cause: err });
  }
  return text;
}

/** Why a read failed, in the operator's terms; the error code when there is nothing better to say. */
export function unreadableReason(err: unknown): string {
  const code = errorCode(err);
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EISDIR': return 'is a directory; name the YAML file in it';
    case 'ENOTDIR': return 'a component of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return `not readable by user ${currentUser()}; the service's DynamicUser needs it world-readable (chmod 0644, and its directories searchable)`;
    case 'ELOOP': return 'too many symbolic links';
    default: return code;
  }
}

/** "nobody (uid 65534)", or "uid 61234" when the uid has no passwd entry (a DynamicUser outside its unit). */
function currentUser(): string {
  const uid = process.getuid?.() ?? -1;
  try {
    return `${userInfo().username} (uid ${uid})`;
  } catch {
    return `uid ${uid}`;
  }
}

/**
 * Why `text` is not YAML text, or undefined when it may be: YAML allows no C0 control character
 * but tab, CR and LF (YAML 1.2 §5.1), and a binary file is full of them. The message names the
 * first one's offset, never the bytes themselves.
 */
export function notTextReason(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const i = text.search(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/);
  if (i === -1) return undefined;
  const code = text.charCodeAt(i).toString(16).padStart(2, '0');
  return `not a YAML text file (control byte 0x${code} at offset ${i}): is it the right file?`;
}
