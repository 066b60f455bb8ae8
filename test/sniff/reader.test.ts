import t from 'tap';
import { Reader } from '../../src/sniff/reader.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

await t.test('integer reads are big-endian and move forward', (t) => {
  const r = new Reader(bytes(0x01, 0x02, 0x03, 0x04, 0x05, 0x06));
  t.equal(r.u8(), 0x01);
  t.equal(r.u16(), 0x0203);
  t.equal(r.u24(), 0x040506);
  t.ok(r.empty);
  t.equal(r.remaining, 0);
  t.end();
});

await t.test('u24 keeps the full range', (t) => {
  t.equal(new Reader(bytes(0xff, 0xff, 0xff)).u24(), 0xffffff);
  t.end();
});

await t.test('a short read returns undefined and does not move', (t) => {
  const cases: { name: string; input: number[]; read: (r: Reader) => unknown }[] = [
    { name: 'u8 on empty', input: [], read: (r) => r.u8() },
    { name: 'u16 on 1 byte', input: [1], read: (r) => r.u16() },
    { name: 'u24 on 2 bytes', input: [1, 2], read: (r) => r.u24() },
    { name: 'bytes(3) on 2 bytes', input: [1, 2], read: (r) => r.bytes(3) },
    { name: 'bytes(-1)', input: [1, 2], read: (r) => r.bytes(-1) },
    { name: 'bytes(NaN)', input: [1, 2], read: (r) => r.bytes(Number.NaN) },
    { name: 'bytes(1.5)', input: [1, 2], read: (r) => r.bytes(1.5) },
    { name: 'prefixed(1) body short', input: [3, 1, 2], read: (r) => r.prefixed(1) },
    { name: 'prefixed(2) length short', input: [0], read: (r) => r.prefixed(2) },
    { name: 'prefixed(2) body short', input: [0, 2, 9], read: (r) => r.prefixed(2) },
    { name: 'prefixed(3) body short', input: [0, 0, 4, 1, 2, 3], read: (r) => r.prefixed(3) },
  ];
  for (const c of cases) {
    const r = new Reader(bytes(...c.input));
    t.equal(c.read(r), undefined, c.name);
    t.equal(r.remaining, c.input.length, `${c.name}: did not move`);
    // The same bytes are still readable one at a time.
    for (const b of c.input) t.equal(r.u8(), b, `${c.name}: byte still there`);
  }
  t.end();
});

await t.test('bytes returns a view of exactly n bytes, n = 0 included', (t) => {
  const r = new Reader(bytes(7, 8, 9));
  t.same(r.bytes(0), bytes());
  t.same(r.bytes(2), bytes(7, 8));
  t.equal(r.remaining, 1);
  t.same(r.bytes(1), bytes(9));
  t.ok(r.empty);
  t.end();
});

await t.test('a child reader cannot see past its field', (t) => {
  for (const lenBytes of [1, 2, 3] as const) {
    const prefix = [0, 0, 2].slice(3 - lenBytes);
    const r = new Reader(bytes(...prefix, 0xaa, 0xbb, 0xcc, 0xdd));
    const child = r.prefixed(lenBytes);
    if (child === undefined) {
      t.fail(`prefixed(${lenBytes}) failed`);
      continue;
    }
    t.equal(child.remaining, 2, `prefixed(${lenBytes}) field size`);
    t.equal(child.u24(), undefined, 'cannot read 3 bytes from a 2-byte field');
    t.equal(child.u16(), 0xaabb);
    t.ok(child.empty);
    t.equal(child.u8(), undefined, 'the parent bytes after the field are invisible');
    t.equal(r.u16(), 0xccdd, 'the parent continues after the field');
    t.ok(r.empty);
  }
  t.end();
});

await t.test('an empty length-prefixed field is a valid empty child', (t) => {
  const r = new Reader(bytes(0, 0, 5));
  const child = r.prefixed(2);
  t.ok(child?.empty);
  t.equal(r.u8(), 5);
  t.end();
});

await t.test('nested children stay within their parent', (t) => {
  // outer<2> = [ inner<1> = [0x01 0x02], 0x03 ], then 0x04 outside
  const r = new Reader(bytes(0x00, 0x04, 0x02, 0x01, 0x02, 0x03, 0x04));
  const outer = r.prefixed(2);
  const inner = outer?.prefixed(1);
  t.equal(inner?.u16(), 0x0102);
  t.equal(inner?.u8(), undefined);
  t.equal(outer?.u8(), 0x03);
  t.equal(outer?.u8(), undefined);
  t.equal(r.u8(), 0x04);
  // A child whose declared length exceeds its parent fails without moving the parent.
  const p = new Reader(bytes(0x00, 0x02, 0x05, 0x01));
  const q = p.prefixed(2);
  t.equal(q?.prefixed(1), undefined);
  t.equal(q?.remaining, 2);
  t.end();
});

await t.test('skip moves past whole fields only', (t) => {
  const r = new Reader(bytes(1, 2, 3));
  t.equal(r.skip(4), false);
  t.equal(r.remaining, 3);
  t.equal(r.skip(-1), false);
  t.equal(r.skip(2), true);
  t.equal(r.u8(), 3);
  t.equal(r.skip(1), false);
  t.ok(r.empty);
  t.end();
});

await t.test('a reader over part of an array sees only that part, bounds clamped', (t) => {
  const b = bytes(9, 0x00, 0x02, 0xaa, 0xbb, 7);
  const r = new Reader(b, 1, 5);
  t.equal(r.remaining, 4);
  const child = r.prefixed(2);
  t.same(child?.bytes(2), bytes(0xaa, 0xbb));
  t.ok(r.empty);
  t.equal(r.u8(), undefined); // 7 is past the end given
  t.equal(new Reader(b, 4, 99).remaining, 2);
  t.equal(new Reader(b, 99).remaining, 0);
  t.equal(new Reader(b, -3, 2).u16(), 0x0900);
  t.end();
});
