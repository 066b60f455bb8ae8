// `probe --suggest` (issue #17): the YAML to paste under `routes` so that every host a probe
// found NOT ALLOWED is allowed. Pure: host names in, lines of YAML out.
import { normalizeHostPattern, validateHostname } from '../config/address.js';
import { familyWildcard } from './presets.js';

/**
 * One route entry (YAML lines indented for pasting under `routes:`) allowing every host in
 * `refused`: a one-label wildcard where a preset uses one for the host's family (an OSS bucket,
 * an ECR account), else the exact name; duplicates once. `resolver` is the resolver of the
 * registry's own route: omitted when it is null or "default". A name that is not a valid host
 * name (an IP address) cannot be routed and becomes a comment. Empty when `refused` is.
 */
export function suggestRoutes(refused: readonly string[], resolver: string | null): string[] {
  const hosts: string[] = [];
  const comments: string[] = [];
  for (const host of refused) {
    const name = validateHostname(host);
    if (!name.ok) {
      comments.push(`  # ${JSON.stringify(host)} cannot be routed: ${name.reason}`);
      continue;
    }
    const wildcard = familyWildcard(name.value);
    // The family's pattern is a valid one-label wildcard by construction; checked all the same.
    const pattern = wildcard !== undefined && normalizeHostPattern(wildcard).ok ? wildcard : name.value;
    if (!hosts.includes(pattern)) hosts.push(pattern);
  }
  if (hosts.length === 0) return comments;
  const lines = [...comments, `  - hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]`];
  if (resolver !== null && resolver !== 'default') lines.push(`    resolver: ${resolver}`);
  return lines;
}
