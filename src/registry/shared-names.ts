// Host names (and wildcard patterns) that carry far more than one registry's traffic (issue #16):
// a client whose hosts file or DNS points them at the forwarder sends all of that traffic to the
// bastion. `hosts` warns about each one it writes. Pure.

/** One kind of shared name: how to recognise it, and what else it carries (a phrase). */
interface SharedName {
  readonly match: RegExp;
  readonly carries: (m: RegExpExecArray) => string;
}

const SHARED: readonly SharedName[] = [
  {
    // Path-style S3 (https://s3.REGION.amazonaws.com/BUCKET/KEY): one name for every bucket.
    match: /^s3(?:\.dualstack)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/,
    carries: (m) => `every path-style S3 request in ${m[1]} (any bucket, any account)`,
  },
  { match: /^s3(?:-external-1)?\.amazonaws\.com$/, carries: () => 'every path-style S3 request to the global endpoint (any bucket, any account)' },
  {
    match: /^\*\.s3(?:\.dualstack)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/,
    carries: (m) => `every virtual-hosted S3 request in ${m[1]} (any bucket, any account)`,
  },
  {
    // Alibaba Cloud OSS: the endpoint and *.endpoint (BUCKET.oss-REGION...) serve every bucket.
    match: /^(?:\*\.)?oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$/,
    carries: (m) => `every OSS request in ${m[1]}${m[2] === undefined ? '' : ' over the VPC endpoint'} (any bucket, any account)`,
  },
  { match: /^storage\.googleapis\.com$/, carries: () => 'every Cloud Storage request (any bucket, any project)' },
  { match: /^\*\.blob\.core\.windows\.net$/, carries: () => 'every Azure Blob Storage account' },
  { match: /^\*\.(amazonaws\.com(?:\.cn)?|aliyuncs\.com|googleapis\.com|windows\.net|cloudfront\.net|r2\.cloudflarestorage\.com)$/, carries: (m) => `every service under ${m[1]} one label deep` },
];

/** For each pattern shared by other traffic, a warning saying what else the redirect sends to the forwarder; in order. */
export function sharedNameWarnings(patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    for (const s of SHARED) {
      const m = s.match.exec(p);
      if (m === null) continue;
      out.push(`${p} is shared by other traffic: redirecting it sends ${s.carries(m)} from the client through the ` +
        'forwarder, not only the registry\'s; leave it out unless the registry needs it (sni-forwarder probe REGISTRY ' +
        'shows which names a pull uses)');
      break;
    }
  }
  return out;
}
