import { parseHostPort } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import { Router, routeResolver } from '../decide/router.js';
import { secondsOption } from './options.js';
import { probeRegistry, readCa } from '../registry/probe.js';
import { suggestRoutes } from '../registry/suggest.js';

/** Options of `probe` as commander gives them. */
export interface ProbeCommandOptions {
  readonly config: string;
  readonly via?: string;
  readonly image?: string;
  readonly user?: string;
  readonly ca?: string;
  readonly timeout?: string;
  /** End with the YAML that allows every NOT ALLOWED host. */
  readonly suggest?: boolean;
}

/**
 * `probe REGISTRY`: walks the registry's pull flow and prints every host it touched with its
 * role and the route that allows it, or NOT ALLOWED. Resolves with the exit code: 0 when every
 * host is allowed, 1 otherwise (SPEC §2).
 */
export async function probeCommand(registry: string, o: ProbeCommandOptions, out: (line: string) => void = console.log): Promise<number> {
  const timeoutMs = o.timeout === undefined ? 10_000 : secondsOption('--timeout', o.timeout);
  const config = await loadConfig(o.config);
  const router = Router.compile(config.routes);
  let via: { host: string; port: number | null } | null = null;
  if (o.via !== undefined) {
    const parsed = parseHostPort(o.via, { requireIp: true, defaultPort: 443 });
    if (!parsed.ok) throw new Error(`--via ${o.via}: ${parsed.reason}`);
    via = parsed.value;
  }
  const [user, ...pass] = o.user === undefined ? [] : o.user.split(':');
  const { touched, error } = await probeRegistry({
    registry,
    via,
    image: o.image ?? null,
    user: user ?? null,
    password: pass.length > 0 ? pass.join(':') : null,
    ca: o.ca === undefined ? null : readCa(o.ca),
    timeoutMs,
    trace: (line) => out(`  ${line}`),
  });
  out('');
  const width = Math.max(...touched.map((t) => t.host.length), 4);
  let refused = 0;
  for (const t of touched) {
    const route = router.match(t.host);
    if (route === undefined) refused++;
    const verdict = route === undefined ? 'NOT ALLOWED' : `allowed by ${route.pattern} (${route.origin})`;
    out(`${t.host.padEnd(width)}  ${t.role.padEnd(8)}  ${verdict}`);
  }
  if (error !== null) out(`\nprobe stopped: ${error.message}`);
  if (refused > 0) out(`\n${refused} of ${touched.length} hosts are not allowed: add them to routes (sni-forwarder route HOST explains a refusal).`);
  if (refused > 0 && o.suggest === true) {
    // The storage and auth hosts live where the registry does: use the resolver of its route.
    const registryHost = touched.find((t) => t.role === 'registry')?.host;
    const registryRoute = registryHost === undefined ? undefined : router.match(registryHost);
    const resolver = registryRoute === undefined ? null : routeResolver(registryRoute);
    out('\n# Add under routes: (probe --suggest)');
    for (const line of suggestRoutes(touched.filter((t) => router.match(t.host) === undefined).map((t) => t.host), resolver)) out(line);
  }
  return refused > 0 || error !== null ? 1 : 0;
}
