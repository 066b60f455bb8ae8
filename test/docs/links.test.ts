// Every relative link in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/ points at a file
// that exists and, with a #fragment, at a heading of that file (GitHub's anchor rule).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import t from 'tap';
import { documents } from '../helpers/doc-examples.js';

const ROOT = resolve(import.meta.dirname, '../../..');

/** GitHub's anchor for a heading: lowercase, punctuation but '-' and '_' dropped, spaces → '-'. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
}

function anchors(text: string): Set<string> {
  const found = new Set<string>();
  let code = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) code = !code;
    const m = code ? null : /^#{1,6} (.*)$/.exec(line);
    if (m !== null) found.add(slug(m[1] ?? ''));
  }
  return found;
}

t.equal(slug('`sni-forwarder hosts --address IP [-c FILE] [--format hosts|dnsmasq]`'), 'sni-forwarder-hosts---address-ip--c-file---format-hostsdnsmasq');
t.equal(slug('Security: what is open by default'), 'security-what-is-open-by-default');

const docs = [...documents(ROOT), 'CONTRIBUTING.md', 'CHANGELOG.md'];
let checked = 0;
for (const doc of docs) {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  // Links outside code: [text](target), not images of remote addresses.
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1] ?? '';
    if (/^[a-z]+:/.test(target)) continue;
    checked++;
    const [path = '', fragment] = target.split('#');
    const file = path === '' ? join(ROOT, doc) : join(ROOT, dirname(doc), path);
    t.ok(existsSync(file), `${doc}: ${target}: the file exists`);
    if (fragment !== undefined && existsSync(file)) {
      t.ok(anchors(readFileSync(file, 'utf8')).has(fragment), `${doc}: ${target}: the heading exists`);
    }
  }
}
t.ok(checked > 30, `${checked} links checked`);
