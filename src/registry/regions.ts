// Cloud region names inside host names, so that `route` can say a refused name differs from an
// allowed one only by region (issue #16: registry-vpc.cn-shanghai... refused while
// registry-vpc.cn-beijing... is allowed reads like a typo, and is a region to add). Pure.

/**
 * Region tokens as they appear in registry and storage host names, bounded by "." or "-" or
 * the name's ends: AWS and Alibaba Cloud "us-east-1", "ap-southeast-1", "cn-north-1",
 * "cn-shanghai-finance-1"; Alibaba Cloud's mainland "cn-beijing" (also inside
 * "oss-cn-beijing-internal"); Google's "europe-west1", "us-central1".
 */
const REGION = /(?<=^|[.-])(?:[a-z]{2}(?:-[a-z]+)+-\d+|cn-[a-z]+|(?:asia|europe|us|northamerica|southamerica|australia|me|africa)-[a-z]+\d+)(?=$|[.-])/g;

/** The region tokens of `s`, in order. */
export function regionsIn(s: string): string[] {
  return [...s.matchAll(REGION)].map((m) => m[0]);
}

/**
 * When `name` is what `pattern` allows with another region ("registry-vpc.cn-shanghai.aliyuncs.com"
 * against "registry-vpc.cn-beijing.aliyuncs.com", or "x.dkr.ecr.eu-west-1.amazonaws.com" against
 * "*.dkr.ecr.us-east-1.amazonaws.com"), the two regions; undefined otherwise. A wildcard stands
 * for exactly one label, as in the router.
 */
export function regionDifference(name: string, pattern: string): { readonly wanted: string; readonly allowed: string } | undefined {
  let a = name;
  let b = pattern;
  if (pattern.startsWith('*.')) {
    const dot = name.indexOf('.');
    if (dot <= 0) return undefined;
    a = name.slice(dot + 1);
    b = pattern.slice(2);
  }
  const ra = regionsIn(a);
  const rb = regionsIn(b);
  const wanted = ra[0];
  const allowed = rb[0];
  if (wanted === undefined || allowed === undefined || wanted === allowed || ra.length !== rb.length) return undefined;
  // One region per name: every token the same ("prod-us-east-1-....s3.us-east-1...").
  if (!ra.every((r) => r === wanted) || !rb.every((r) => r === allowed)) return undefined;
  const blank = (s: string): string => s.replace(REGION, '\u0000');
  return blank(a) === blank(b) ? { wanted, allowed } : undefined;
}
