// Provider presets (SPEC §3 `presets`, §7): for each registry provider, the host names a
// `docker pull`/`push` touches (registry, token service, blob storage), as a documented data
// table. Pure: validated params go in, host patterns come out. config/schema.ts validates the
// params with this table and expands every preset into an ordinary dynamic route.
//
// Each host cites the provider's page that lists it. "GUESS" marks a name whose shape is
// inferred rather than written out by the provider; `sni-forwarder probe` shows the names a
// registry really uses, and a missing one can always be added under `routes`. Names were
// re-checked against the providers' pages in December 2026 (issue #17); docs/providers.md is
// the operator's reference for the params.
//
// Security: a preset never opens more than the named family. Wildcards are one label deep
// under a provider-owned suffix (never `*.blob.core.windows.net` or `*.s3.amazonaws.com`, which
// name every customer's storage), and a storage host that depends on the operator's setup is
// a param validated against the provider's syntax, expanded to exactly one name.

/** The preset providers, in the order error messages list them. */
export const PROVIDERS = ['aliyun-acr', 'aws-ecr', 'dockerhub', 'ghcr', 'gar', 'quay', 'azure-acr', 'harbor'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** Params after validation: every present key is one the provider declares, with a valid value. */
export type PresetParams = Readonly<Record<string, string>>;

/** One parameter of a provider: whether it is required, its default, and its value check. */
export interface ParamSpec {
  readonly required?: boolean;
  /** Used when the param is absent (only for optional params). */
  readonly default?: string;
  /** The values accepted: a fixed list, or a pattern with an example for the message. */
  readonly values: readonly string[] | { readonly pattern: RegExp; readonly what: string };
}

/** A provider: its params (in display order), cross-param checks and the hosts it allows. */
export interface ProviderSpec {
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Problems that involve several params: [param to blame, message]. Params are valid singly. */
  readonly check?: (p: PresetParams) => readonly (readonly [string, string])[];
  /** Host patterns (exact names or `*.suffix`), each valid; params are valid and defaulted. */
  readonly hosts: (p: PresetParams) => readonly string[];
}

/** A DNS label such as an instance name ("my-registry"). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A host name such as "harbor.example.com": LDH labels, at least two, not an IPv4 literal (numeric last label). */
const HOSTNAME = /^(?=.{1,253}$)(?!.*\.[0-9]+$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const BOOL = ['true', 'false'] as const;

/** The value of a param that is present or has a default ('' only for an absent optional one). */
function get(p: PresetParams, spec: ProviderSpec, key: string): string {
  return p[key] ?? spec.params[key]?.default ?? '';
}

/** Alibaba Cloud Container Registry: personal (classic or crpi- instance) and enterprise. */
const ALIYUN_ACR: ProviderSpec = {
  params: {
    region: { required: true, values: { pattern: /^[a-z]{2}(?:-[a-z0-9]+)+$/, what: 'a region ID such as "cn-beijing"' } },
    network: { default: 'internet', values: ['internet', 'vpc'] },
    edition: { default: 'personal', values: ['personal', 'enterprise'] },
    instance: {
      values: { pattern: LABEL, what: 'an instance name such as "crpi-abc123" (personal) or "my-ee" (enterprise)' },
    },
  },
  check: (p) => {
    const edition = get(p, ALIYUN_ACR, 'edition');
    if (edition === 'enterprise' && p['instance'] === undefined) {
      return [['instance', 'missing instance: an enterprise edition preset needs the instance name (NAME in NAME-registry.REGION.cr.aliyuncs.com)']];
    }
    if (edition === 'personal' && p['instance'] !== undefined && !/^crpi-[a-z0-9]+$/.test(p['instance'])) {
      return [['instance', `"${p['instance']}" is not a personal edition instance ID such as "crpi-abc123"`]];
    }
    return [];
  },
  hosts: (p) => {
    const region = get(p, ALIYUN_ACR, 'region');
    const vpc = get(p, ALIYUN_ACR, 'network') === 'vpc' ? '-vpc' : '';
    const instance = p['instance'];
    const enterprise = get(p, ALIYUN_ACR, 'edition') === 'enterprise';
    // OSS endpoints per region, public and "-internal" (VPC):
    // https://www.alibabacloud.com/help/en/oss/user-guide/regions-and-endpoints
    // The registry redirects blob downloads to a bucket under them, hence the wildcard; the
    // bucket name is the provider's, not published ("please check the OSS console").
    const oss = `oss-${region}${vpc === '' ? '' : '-internal'}.aliyuncs.com`;
    if (enterprise) {
      return [
        // https://www.alibabacloud.com/help/en/acr/user-guide/configure-access-over-vpcs
        // (instance VPC and public domain names: NAME-registry[-vpc].REGION.cr.aliyuncs.com)
        `${instance ?? ''}-registry${vpc}.${region}.cr.aliyuncs.com`,
        // https://www.alibabacloud.com/blog/reverse-proxy-to-access-alibaba-cloud-container-registry_597957
        // (Alibaba Cloud's own blog: dockerauth-ee and dockerauth-ee-vpc)
        `dockerauth-ee${vpc}.${region}.aliyuncs.com`,
        oss,
        `*.${oss}`,
      ];
    }
    return [
      instance === undefined
        // https://www.alibabacloud.com/blog/reverse-proxy-to-access-alibaba-cloud-container-registry_597957
        // (registry.REGION / registry-vpc.REGION.aliyuncs.com)
        ? `registry${vpc}.${region}.aliyuncs.com`
        // Personal edition instances created since 2024-09 (console "access credentials" page):
        // crpi-ID.REGION.personal.cr.aliyuncs.com. GUESS: the "-vpc" form follows the
        // enterprise pattern (NAME-registry-vpc); check it with `probe`.
        : `${instance}${vpc}.${region}.personal.cr.aliyuncs.com`,
      // Same blog: dockerauth.REGION / dockerauth-vpc.REGION.aliyuncs.com. GUESS for crpi-
      // instances: that they use the same token service; `probe` shows the realm.
      `dockerauth${vpc}.${region}.aliyuncs.com`,
      oss,
      `*.${oss}`,
    ];
  },
};

/** Amazon ECR (private registries). */
const AWS_ECR: ProviderSpec = {
  params: {
    region: { required: true, values: { pattern: /^[a-z]{2}(?:-[a-z]+)+-[0-9]+$/, what: 'a region such as "ap-southeast-1"' } },
    account: { values: { pattern: /^[0-9]{12}$/, what: 'a 12-digit account ID (quoted) such as "123456789012"' } },
    dualstack: { default: 'false', values: BOOL },
  },
  check: (p) => (p['region']?.startsWith('cn-') === true && p['dualstack'] === 'true'
    ? [['dualstack', 'dual-stack names for the China regions are not in the preset table; list them under routes']]
    : []),
  hosts: (p) => {
    const region = get(p, AWS_ECR, 'region');
    // https://docs.amazonaws.cn/en_us/aws/latest/userguide/endpoints-Beijing.html: China
    // regions use amazonaws.com.cn.
    const aws = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    const account = p['account'];
    // https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
    // (com.amazonaws.REGION.ecr.api / ecr.dkr, and the S3 bucket
    // arn:aws:s3:::prod-REGION-starport-layer-bucket/* that holds the layers). GUESS: the
    // bucket's host name is the virtual-hosted S3 name below; s3.REGION is the path-style name.
    const hosts = [
      `api.ecr.${region}.${aws}`,
      account === undefined ? `*.dkr.ecr.${region}.${aws}` : `${account}.dkr.ecr.${region}.${aws}`,
      `prod-${region}-starport-layer-bucket.s3.${region}.${aws}`,
      `s3.${region}.${aws}`,
    ];
    if (get(p, AWS_ECR, 'dualstack') === 'true') {
      // https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html
      // (dual-stack: REGISTRY-ID.dkr-ecr.REGION.on.aws, ecr.REGION.api.aws)
      hosts.push(
        `ecr.${region}.api.aws`,
        account === undefined ? `*.dkr-ecr.${region}.on.aws` : `${account}.dkr-ecr.${region}.on.aws`,
        // GUESS: layers over IPv6 come from S3's dual-stack endpoint
        // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/dual-stack-endpoints.html).
        `prod-${region}-starport-layer-bucket.s3.dualstack.${region}.${aws}`,
        `s3.dualstack.${region}.${aws}`,
      );
    }
    return hosts;
  },
};

/**
 * The S3 host Docker Hub redirects blob downloads to from inside AWS: a bucket whose name starts
 * with docker-images-prod, virtual-hosted under S3 (regional, dual-stack or global name).
 */
const DOCKERHUB_S3_HOST = /^docker-images-prod[a-z0-9-]{0,45}\.s3(?:\.dualstack)?(?:\.[a-z]{2}(?:-[a-z]+)+-[0-9]+)?\.amazonaws\.com$/;

/** Docker Hub. */
const DOCKERHUB: ProviderSpec = {
  params: {
    aws_s3_host: {
      values: {
        pattern: DOCKERHUB_S3_HOST,
        what: 'the docker-images-prod* S3 host `probe` shows from inside AWS, such as "docker-images-prod.s3.dualstack.us-east-1.amazonaws.com"',
      },
    },
  },
  // https://docs.docker.com/desktop/setup/allow-list/ ("Docker Pull/Push", "Authentication"):
  // registry-1.docker.io, auth.docker.io, and since 2026 production.cloudfront.docker.com
  // (blobs served from CloudFront from about 2026-05-20; pulls that could not reach it failed:
  // https://github.com/chainguard-dev/apko/pull/2250). The page no longer lists the Cloudflare
  // names (production.cloudflare.docker.com and the R2 bucket, last listed in
  // https://github.com/docker/docs/pull/25122), but clients are still redirected to them, so
  // the preset keeps them: dropping them would break pulls that work today.
  hosts: (p) => [
    'registry-1.docker.io',
    'auth.docker.io',
    'production.cloudfront.docker.com',
    'production.cloudflare.docker.com',
    // One fixed Cloudflare account ID, so an exact name, never *.r2.cloudflarestorage.com.
    'docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com',
    // From inside AWS, Docker Hub redirects to a docker-images-prod* S3 bucket in the client's
    // region instead of the CDN (JFrog KB 000004313, "Whitelist the following if your Docker
    // registry is behind firewalls": https://jfrog.com/help/r/what-should-we-whitelist-for-artifactory-when-our-docker-registry-is-behind-firewalls-and-proxy-servers).
    // Docker documents no bucket name, and `*.s3....amazonaws.com` would open every S3
    // bucket, so the exact name `probe` shows is a param.
    ...(p['aws_s3_host'] === undefined ? [] : [p['aws_s3_host']]),
  ],
};

/** GitHub Container Registry. */
const GHCR: ProviderSpec = {
  params: {},
  // https://docs.github.com/en/actions/hosting-your-own-runners/managing-self-hosted-runners/communicating-with-self-hosted-runners
  // ("ghcr.io" and "pkg-containers.githubusercontent.com" for packages). The token service is
  // ghcr.io/token, so no separate auth host.
  hosts: () => ['ghcr.io', 'pkg-containers.githubusercontent.com'],
};

/** Google Artifact Registry (Docker repositories). */
const GAR: ProviderSpec = {
  params: {
    location: {
      required: true,
      values: { pattern: /^[a-z]+(?:-[a-z]+[0-9]*)?$/, what: 'a location such as "europe-west1" or "us"' },
    },
  },
  // https://cloud.google.com/artifact-registry/docs/docker/names (LOCATION-docker.pkg.dev).
  // The token realm is on the same host. Google documents no separate blob storage host for
  // Artifact Registry; if `probe` shows a redirect, add that host under routes.
  hosts: (p) => [`${get(p, GAR, 'location')}-docker.pkg.dev`],
};

/** Red Hat Quay.io. */
const QUAY: ProviderSpec = {
  params: {},
  // https://docs.openshift.com/container-platform/latest/installing/install_config/configuring-firewall.html
  // (quay.io, cdn.quay.io, cdn01..cdn03.quay.io; "*.quay.io" is offered as the alternative,
  // not used here so that the allowlist stays exact). Tokens come from quay.io itself.
  hosts: () => ['quay.io', 'cdn.quay.io', 'cdn01.quay.io', 'cdn02.quay.io', 'cdn03.quay.io'],
};

/** Azure Container Registry: data endpoint per region, or the storage account blobs come from. */
const AZURE_ACR: ProviderSpec = {
  params: {
    name: { required: true, values: { pattern: /^[a-z0-9]{5,50}$/, what: 'a registry name (5-50 lowercase letters and digits)' } },
    region: { values: { pattern: /^[a-z]+[0-9]*$/, what: 'a region such as "westeurope"' } },
    // https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules
    // (Microsoft.Storage/storageAccounts: 3-24 lowercase letters and numbers).
    storage_account: { values: { pattern: /^[a-z0-9]{3,24}$/, what: 'a storage account name (3-24 lowercase letters and digits)' } },
  },
  check: (p) => (p['region'] === undefined && p['storage_account'] === undefined
    ? [['region', 'missing region: azure-acr needs region (the dedicated data endpoint NAME.REGION.data.azurecr.io) or storage_account (the ACCOUNT.blob.core.windows.net blobs are redirected to)']]
    : []),
  // https://learn.microsoft.com/en-us/azure/container-registry/container-registry-firewall-access-rules
  // https://learn.microsoft.com/en-us/azure/container-registry/container-registry-dedicated-data-endpoints
  // https://learn.microsoft.com/en-us/azure/container-registry/container-registry-endpoint-reference
  // (login server NAME.azurecr.io; dedicated data endpoint NAME.REGION.data.azurecr.io, Premium
  // tier; without one, layer downloads are redirected to a storage account under
  // *.blob.core.windows.net). That wildcard names every Azure storage account, so it is never
  // in the preset: storage_account adds the one account `probe` shows. One preset per
  // geo-replica region.
  hosts: (p) => {
    const name = get(p, AZURE_ACR, 'name');
    return [
      `${name}.azurecr.io`,
      ...(p['region'] === undefined ? [] : [`${name}.${p['region']}.data.azurecr.io`]),
      ...(p['storage_account'] === undefined ? [] : [`${p['storage_account']}.blob.core.windows.net`]),
    ];
  },
};

/** A self-hosted Harbor (or any registry that serves tokens from its own name). */
const HARBOR: ProviderSpec = {
  params: {
    host: { required: true, values: { pattern: HOSTNAME, what: 'a host name such as "harbor.example.com"' } },
    storage: {
      values: { pattern: HOSTNAME, what: 'the storage host blob downloads are redirected to, such as "harbor-blobs.s3.eu-west-1.amazonaws.com"' },
    },
  },
  // https://goharbor.io/docs/main/install-config/configure-yml-file/ (`hostname`; and
  // `storage_service`: with an S3, Azure, GCS, Swift or OSS backend the registry redirects blob
  // downloads to the backend unless `redirect.disable: true`). Harbor serves the registry and
  // its token service on one name; with filesystem storage or redirects disabled, blobs too.
  // With redirects on, clients fetch blobs from the backend's own host (for example
  // https://github.com/goharbor/harbor/discussions/20264): that exact host is `storage`.
  hosts: (p) => [get(p, HARBOR, 'host'), ...(p['storage'] === undefined ? [] : [p['storage']])],
};

/**
 * Host families for which a preset allows a one-label wildcard: `suffix` matches what follows
 * the wildcard label (`*.SUFFIX`). `probe --suggest` writes `*.SUFFIX` for a refused host in
 * such a family, and an exact name for any other. A test checks that every wildcard the
 * table produces is in a family here, so the list cannot open more than the presets do.
 */
export const WILDCARD_FAMILIES: readonly { readonly provider: Provider; readonly what: string; readonly suffix: RegExp }[] = [
  { provider: 'aliyun-acr', what: 'OSS buckets', suffix: /^oss-[a-z]{2}(?:-[a-z0-9]+)+\.aliyuncs\.com$/ },
  { provider: 'aws-ecr', what: 'ECR registries by account', suffix: /^dkr\.ecr\.[a-z]{2}(?:-[a-z]+)+-[0-9]+\.amazonaws\.com(?:\.cn)?$/ },
  { provider: 'aws-ecr', what: 'ECR dual-stack registries by account', suffix: /^dkr-ecr\.[a-z]{2}(?:-[a-z]+)+-[0-9]+\.on\.aws$/ },
];

/** The `*.suffix` pattern `probe --suggest` may write for `host`, or undefined: an exact name. */
export function familyWildcard(host: string): string | undefined {
  const dot = host.indexOf('.');
  if (dot <= 0) return undefined;
  const suffix = host.slice(dot + 1);
  return WILDCARD_FAMILIES.some((f) => f.suffix.test(suffix)) ? `*.${suffix}` : undefined;
}

/** The table: every provider's params and hosts. */
export const PRESETS: Readonly<Record<Provider, ProviderSpec>> = {
  'aliyun-acr': ALIYUN_ACR,
  'aws-ecr': AWS_ECR,
  dockerhub: DOCKERHUB,
  ghcr: GHCR,
  gar: GAR,
  quay: QUAY,
  'azure-acr': AZURE_ACR,
  harbor: HARBOR,
};

/** Every param name some provider takes, in first-seen order (the YAML keys of a preset). */
export const ALL_PARAMS: readonly string[] = [...new Set(PROVIDERS.flatMap((p) => Object.keys(PRESETS[p].params)))];

/** True if `name` is a provider of the table. */
export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

/**
 * Checks one param value; undefined if it is valid, else the message (without position).
 * `key` must be a param of `provider`.
 */
export function checkParamValue(provider: Provider, key: string, value: string): string | undefined {
  const spec = PRESETS[provider].params[key];
  if (spec === undefined) return `not a parameter of ${provider}`;
  const { values } = spec;
  if (Array.isArray(values)) {
    return values.includes(value) ? undefined : `expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`;
  }
  const { pattern, what } = values as { readonly pattern: RegExp; readonly what: string };
  return pattern.test(value) ? undefined : `${JSON.stringify(value)} is not ${what}`;
}

/**
 * The host patterns of a preset whose params passed validation (missing optional params take
 * their defaults), in table order without duplicates.
 */
export function presetHosts(provider: Provider, params: PresetParams): readonly string[] {
  return [...new Set(PRESETS[provider].hosts(params))];
}

/** Route origin for `check`: "preset aliyun-acr region=cn-beijing network=vpc" (params as written). */
export function presetOrigin(provider: string, params: PresetParams): string {
  const kv = orderedParams(provider, params).map(([k, v]) => `${k}=${v}`);
  return ['preset', provider, ...kv].join(' ');
}

/** Short name for messages: "preset aliyun-acr (cn-beijing vpc)"; no params: "preset ghcr". */
export function presetLabel(provider: string, params: PresetParams): string {
  const values = orderedParams(provider, params).map(([, v]) => v);
  return values.length === 0 ? `preset ${provider}` : `preset ${provider} (${values.join(' ')})`;
}

function orderedParams(provider: string, params: PresetParams): [string, string][] {
  const order = isProvider(provider) ? Object.keys(PRESETS[provider].params) : [];
  const known = order.filter((k) => params[k] !== undefined);
  const rest = Object.keys(params).filter((k) => !order.includes(k)).sort();
  return [...known, ...rest].map((k) => [k, params[k] ?? '']);
}
