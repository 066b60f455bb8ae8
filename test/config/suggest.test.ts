// The "did you mean" behind unknown-key messages: the distance itself and which keys it offers.
import t from 'tap';
import { closestKey, editDistance } from '../../src/config/suggest.js';

await t.test('editDistance counts insertions, deletions, substitutions and adjacent swaps', (t) => {
  const cases: [string, string, number][] = [
    ['', '', 0], ['', 'abc', 3], ['abc', '', 3], ['resolver', 'resolver', 0],
    ['resolvr', 'resolver', 1], ['resovler', 'resolver', 1], ['rezolver', 'resolver', 1],
    ['kitten', 'sitting', 3], ['ab', 'ba', 1], ['ca', 'abc', 3],
  ];
  for (const [a, b, want] of cases) {
    t.equal(editDistance(a, b), want, `${a} -> ${b}`);
    t.equal(editDistance(b, a), want, `${b} -> ${a} (symmetric)`);
  }
  t.end();
});

await t.test('closestKey offers a near key, and nothing for a word far from all', (t) => {
  const top = ['listen', 'metrics', 'log', 'workers', 'limits', 'clients', 'resolver', 'upstream_networks', 'presets', 'routes'];
  t.equal(closestKey('resolvr', top), 'resolver');
  t.equal(closestKey('Routes', top), 'routes', 'case does not count');
  t.equal(closestKey('upstream-networks', top), 'upstream_networks', '"-" for "_" does not count');
  t.equal(closestKey('upstreamnetworks', top), 'upstream_networks');
  t.equal(closestKey('route', top), 'routes');
  t.equal(closestKey('server', top), undefined, 'server is not resolver');
  t.equal(closestKey('foo', top), undefined);
  t.equal(closestKey('x', ['y']), 'y', 'one edit is always allowed');
  t.equal(closestKey('', top), undefined);
  t.end();
});
