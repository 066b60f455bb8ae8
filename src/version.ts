import { readFileSync } from 'node:fs';

/**
 * The `version` of the package.json next to dist/ (the install copies it there too), or
 * "unknown" if it cannot be read. Read once per call: callers read it at startup.
 */
export function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
