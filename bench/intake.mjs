#!/usr/bin/env node
// Intake throughput (issue #14 item 4): a 64 KiB PROXY v2 header and a 16 KiB HTTP head pushed
// one byte at a time versus in one chunk, through the built IntakeReader (run `make build`
// first). One byte at a time should cost a constant factor more per byte, not a factor that
// grows with the size. Pure CPU, no sockets: `node bench/intake.mjs`.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { IntakeReader } from '../dist/sniff/intake.js';

const u16 = (n) => [(n >> 8) & 0xff, n & 0xff];
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const tlvBytes = 0xffff - 12;
const proxy = Buffer.from([...SIG, 0x21, 0x11, ...u16(0xffff), 10, 0, 0, 1, 10, 0, 0, 2, ...u16(1), ...u16(443),
  0xe0, ...u16(tlvBytes - 3), ...new Array(tlvBytes - 3).fill(0x61)]);
// Followed by the start of a TLS record, so that the reader stops at need-more after the header.
const proxied = Buffer.concat([proxy, Buffer.from([0x16, 0x03, 0x01])]);
const lines = ['GET / HTTP/1.1', 'Host: registry.example.com'];
for (let i = 0; lines.join('\r\n').length < 16 * 1024 - 64; i++) lines.push(`x${i % 10}: y`);
const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);

function rate(opts, bytes, chunk) {
  let total = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    const r = new IntakeReader(opts);
    for (let i = 0; i < bytes.length; i += chunk) r.push(bytes.subarray(i, i + chunk));
    total += bytes.length;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < 1);
  return total / elapsed / 2 ** 20;
}

for (const [name, opts, bytes] of [
  ['PROXY v2, 64 KiB', { protocol: 'tls', expectProxy: true }, proxied],
  ['HTTP head, 16 KiB', { protocol: 'http', expectProxy: false }, head],
]) {
  const whole = rate(opts, bytes, bytes.length);
  const single = rate(opts, bytes, 1);
  console.log(`${name}: whole ${whole.toFixed(1)} MiB/s, one byte at a time ${single.toFixed(2)} MiB/s (${(whole / single).toFixed(0)}× slower)`);
}
