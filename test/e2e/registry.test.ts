// A real registry end to end through the built daemon: Debian's docker-registry with token
// authentication and blob downloads redirected to a storage host (nginx), skopeo pushing and
// pulling a ~30 MiB image, docker, containerd's ctr, podman and buildah pulling it again, and
// `probe --via` naming the three hosts. The clients' hosts file is
// `hosts --address 127.0.0.1` output, so every connection goes through the forwarder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { DaemonProcess, metric, runCli, writeConfig } from '../helpers/daemon.js';
import { Dockerd, dockerdUnavailable } from '../helpers/dockerd.js';
import { run } from '../helpers/proc.js';
import { PASSWORD, RegistryWorld, USER, blobDigest, buildOciImage, ociLayers, registryWorldUnavailable, type OciImage } from '../helpers/registry-world.js';

const IMAGE_BYTES = 30 * 1024 * 1024;

const unavailable = await registryWorldUnavailable();
if (unavailable !== null) {
  t.plan(0, unavailable);
} else {
  const started = Date.now();
  const world = await RegistryWorld.create();
  t.teardown(() => world.cleanup());
  const work = mkdtempSync(join(tmpdir(), 'sni-fwd-e2e-registry-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const config = (withStorage: boolean): string => `
listen:
  - address: "127.0.0.1:0"
metrics:
  address: "127.0.0.1:0"
${world.routes(withStorage)}`;
  const yaml = config(true);
  const configFile = writeConfig(yaml);
  t.teardown(() => rmSync(dirname(configFile), { recursive: true, force: true }));
  const daemon = await DaemonProcess.start(yaml);
  t.teardown(() => daemon.stop());
  const port = daemon.listenerPort();
  await world.startServers(port);
  const registry = `registry.test:${port}`;

  // The issue: "hosts --address output, written as the clients' hosts file, is what the test uses".
  const hosts = await runCli(['hosts', '--address', '127.0.0.1', '-c', configFile]);
  const hostsFile = join(work, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost\n${hosts.stdout}`);
  t.comment(`world up in ${Date.now() - started} ms`);
  // Asked before the first subtest: the root test ends when none is queued.
  const noDocker = await dockerdUnavailable();
  const missingClients = new Map<string, string>();
  for (const client of ['podman', 'buildah']) {
    const r = await run(client, ['--version']);
    if (r.code !== 0) missingClients.set(client, `${client} is needed (Debian package ${client}): ${r.stderr.trim() || 'not found'}`);
  }

  await t.test('hosts --address lists the three names', (t) => {
    t.equal(hosts.code, 0, 'hosts exits 0');
    t.same(hosts.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
      ['127.0.0.1 auth.test', '127.0.0.1 registry.test', '127.0.0.1 storage.test']);
    t.end();
  });

  /** The image the skopeo test pushed as test/app:v1; null until it did. */
  let pushed: OciImage | null = null;

  await t.test('skopeo pushes and pulls a 30 MiB image through the forwarder; the layers match', async (t) => {
    const src = join(work, 'src');
    const dst = join(work, 'dst');
    const image = buildOciImage(src, IMAGE_BYTES);
    const creds = `${USER}:${PASSWORD}`;

    let at = Date.now();
    const push = await world.skopeo(hostsFile, ['copy', 'oci:' + src + ':latest', `docker://${registry}/test/app:v1`,
      '--dest-cert-dir', world.certDir, '--dest-creds', creds]);
    t.equal(push.code, 0, `push: ${push.stdout}${push.stderr}`);
    t.comment(`push ${image.size} bytes: ${Date.now() - at} ms`);
    if (push.code === 0) pushed = image;

    at = Date.now();
    const pull = await world.skopeo(hostsFile, ['copy', `docker://${registry}/test/app:v1`, 'oci:' + dst + ':latest',
      '--src-cert-dir', world.certDir, '--src-creds', creds]);
    t.equal(pull.code, 0, `pull: ${pull.stdout}${pull.stderr}`);
    t.comment(`pull: ${Date.now() - at} ms`);
    if (push.code !== 0 || pull.code !== 0) return;

    const got = ociLayers(dst);
    t.same(got.layers, [image.layerDigest], 'the pulled manifest lists the pushed layer');
    t.equal(got.config, image.configDigest);
    t.equal(blobDigest(dst, image.layerDigest), image.layerDigest, 'the pulled layer blob has that digest');
    t.ok(world.tokenLog.some((l) => l.startsWith('200 ') && l.includes('repository:test/app:') && l.includes('push')), 'a push token was issued');

    const layerHex = image.layerDigest.slice('sha256:'.length);
    const redirected = world.accessLines().filter((l) => l.startsWith('GET ') && l.includes(`/docker/registry/v2/blobs/sha256/${layerHex.slice(0, 2)}/${layerHex}/data 200 `));
    t.ok(redirected.length >= 1, `nginx served the redirected layer download: ${world.accessLines().join('\n')}`);
    t.ok(redirected.every((l) => l.endsWith(' storage.test')), 'with SNI storage.test');

    const m = await daemon.metrics();
    const up = m.get(metric('sni_forwarder_bytes_total', { host: 'registry.test', direction: 'upload' })) ?? 0;
    const down = m.get(metric('sni_forwarder_bytes_total', { host: 'storage.test', direction: 'download' })) ?? 0;
    t.ok(up >= image.size, `registry.test upload ${up} >= image ${image.size}`);
    t.ok(down >= image.size, `storage.test download ${down} >= image ${image.size}`);
    const sni = new Set(daemon.lines.filter((l) => l.msg === 'connection').map((l) => l['sni']));
    t.same([...sni].sort(), ['auth.test', 'registry.test', 'storage.test'], 'every connection went through the forwarder');
  });

  await t.test('docker and containerd (ctr) pull the image through the forwarder: token, manifest and redirected layer', { skip: noDocker ?? false }, async (t) => {
    const image = pushed;
    if (image === null) {
      t.fail('the skopeo test did not push test/app:v1');
      return;
    }
    const dockerd = await Dockerd.start(hostsFile, world.ca.caFile);
    let stopped = false;
    t.teardown(() => (stopped ? undefined : dockerd.stop()));
    const before = daemon.lines.length;
    const layerHex = image.layerDigest.slice('sha256:'.length);
    const layerGets = (): number => world.accessLines().filter((l) => l.includes(`/blobs/sha256/${layerHex.slice(0, 2)}/${layerHex}/data 200 `)).length;
    const pullTokens = (): number => world.tokenLog.filter((l) => l.startsWith('200 ') && l.includes('repository:test/app:pull')).length;
    const served = layerGets();
    const tokens = pullTokens();

    const login = await dockerd.docker(['login', registry, '-u', USER, '-p', PASSWORD]);
    t.equal(login.code, 0, `login: ${login.stdout}${login.stderr}\n${dockerd.log}`);
    const pull = await dockerd.docker(['pull', `${registry}/test/app:v1`]);
    t.equal(pull.code, 0, `pull: ${pull.stdout}${pull.stderr}\n${dockerd.log}`);
    t.match(pull.stdout, `Digest: ${image.manifestDigest}`, 'docker got the manifest skopeo pushed');
    // Docker's image ID is the digest of the image config; the config names the layer's diff ID.
    const id = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', `${registry}/test/app:v1`]);
    t.equal(id.stdout.trim(), image.configDigest, 'the pulled image is the pushed one');
    t.equal(layerGets(), served + 1, 'docker fetched the layer from the storage host, redirected');
    t.ok(pullTokens() > tokens, 'docker got a pull token from the auth host');

    // containerd's own client, another registry client implementation; it fetches by itself.
    const ctrTokens = pullTokens();
    const ctr = await dockerd.ctr(hostsFile, ['--namespace', 'sni-test', 'images', 'pull', '--tlscacert', world.ca.caFile,
      '--user', `${USER}:${PASSWORD}`, `${registry}/test/app:v1`]);
    t.equal(ctr.code, 0, `ctr pull: ${ctr.stdout}${ctr.stderr}`);
    const ls = await dockerd.ctr(hostsFile, ['--namespace', 'sni-test', 'images', 'check', `name==${registry}/test/app:v1`]);
    t.match(ls.stdout, new RegExp(`${image.manifestDigest} +complete \\(2/2\\)`), `ctr has the pushed manifest and both blobs: ${ls.stdout}${ls.stderr}`);
    t.equal(layerGets(), served + 2, 'ctr fetched the layer from the storage host, redirected');
    t.ok(pullTokens() > ctrTokens, 'ctr got a pull token from the auth host');

    // dockerd keeps idle connections open: once it is stopped, every connection has its line.
    await dockerd.stop();
    stopped = true;
    for (const host of ['auth.test', 'registry.test', 'storage.test']) {
      await daemon.accessLine((l) => l['sni'] === host && daemon.lines.indexOf(l) >= before);
    }
    const lines = daemon.lines.slice(before).filter((l) => l.msg === 'connection');
    t.same([...new Set(lines.map((l) => l['sni']))].sort(), ['auth.test', 'registry.test', 'storage.test'], 'the clients reached the three hosts through the forwarder');
    t.ok(lines.every((l) => l['outcome'] === 'forwarded'), `every connection forwarded: ${JSON.stringify(lines.map((l) => [l['sni'], l['outcome']]))}`);
  });

  // podman and buildah pull with their own storage (vfs, in a temporary root): the same
  // containers/image library as skopeo, but their own configuration, credentials and stores.
  for (const client of ['podman', 'buildah'] as const) {
    await t.test(`${client} pulls the image through the forwarder`, { skip: missingClients.get(client) ?? false }, async (t) => {
      const image = pushed;
      if (image === null) {
        t.fail('the skopeo test did not push test/app:v1');
        return;
      }
      const root = mkdtempSync(join(tmpdir(), `sni-fwd-e2e-${client}-`));
      t.teardown(() => rmSync(root, { recursive: true, force: true }));
      const before = daemon.lines.length;
      const storage = ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs'];
      const pull = await world.client(hostsFile, client, [...storage, 'pull', '--cert-dir', world.certDir,
        '--creds', `${USER}:${PASSWORD}`, `${registry}/test/app:v1`], 120_000);
      t.equal(pull.code, 0, `${client} pull: ${pull.stdout}${pull.stderr}`);
      // Both print the image ID, the digest of the image config.
      t.match(pull.stdout, image.configDigest.slice('sha256:'.length), 'the pulled image is the pushed one');
      for (const host of ['auth.test', 'registry.test', 'storage.test']) {
        await daemon.accessLine((l) => l['sni'] === host && daemon.lines.indexOf(l) >= before);
      }
      const lines = daemon.lines.slice(before).filter((l) => l.msg === 'connection');
      t.ok(lines.every((l) => l['outcome'] === 'forwarded'), `every ${client} connection forwarded: ${JSON.stringify(lines.map((l) => [l['sni'], l['outcome']]))}`);
    });
  }

  await t.test('probe --via lists the registry, auth and storage hosts, all allowed', async (t) => {
    const r = await runCli(['probe', registry, '--via', `127.0.0.1:${port}`, '--ca', world.ca.caFile,
      '--image', 'test/app:v1', '-u', `${USER}:${PASSWORD}`, '-c', configFile]);
    t.equal(r.code, 0, r.stdout + r.stderr);
    const listed = r.stdout.split('\n').filter((l) => /^\S+\.test /.test(l));
    t.equal(listed.length, 3, r.stdout);
    t.match(r.stdout, /^registry\.test +registry +allowed by registry\.test /m);
    t.match(r.stdout, /^auth\.test +auth +allowed by auth\.test /m);
    t.match(r.stdout, /^storage\.test +storage +allowed by storage\.test /m);
  });

  await t.test('with the storage route removed, probe exits 1 and names storage.test', async (t) => {
    const narrow = config(false);
    const d = await DaemonProcess.start(narrow);
    t.teardown(() => d.stop());
    const narrowFile = writeConfig(narrow);
    t.teardown(() => rmSync(dirname(narrowFile), { recursive: true, force: true }));
    const r = await runCli(['probe', registry, '--via', `127.0.0.1:${d.listenerPort()}`, '--ca', world.ca.caFile,
      '--image', 'test/app:v1', '-u', `${USER}:${PASSWORD}`, '-c', narrowFile]);
    t.equal(r.code, 1, r.stdout + r.stderr);
    t.match(r.stdout, /^storage\.test +storage +NOT ALLOWED$/m);
    t.match(r.stdout, /probe stopped: .*storage\.test/);
    const refused = await d.accessLine((l) => l['sni'] === 'storage.test');
    t.equal(refused['outcome'], 'not_allowed');
  });
  t.comment(`total ${Date.now() - started} ms`);
}
