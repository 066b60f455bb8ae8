import t from 'tap';
import { ClientSlotTable } from '../../src/decide/client-slots.js';

await t.test('acquire up to the limit per key; release frees one', (t) => {
  const s = new ClientSlotTable();
  t.ok(s.acquire('a', 2));
  t.ok(s.acquire('a', 2));
  t.notOk(s.acquire('a', 2), 'the third of a is refused');
  t.ok(s.acquire('b', 2), 'another key is counted apart');
  t.equal(s.countFor('a'), 2, 'a refusal takes no slot');
  s.release('a');
  t.ok(s.acquire('a', 2), 'a released slot can be taken again');
  s.release('a');
  s.release('a');
  s.release('a'); // one more than held: ignored
  s.release('b');
  t.equal(s.clients, 0, 'nothing left');
  t.ok(s.acquire('a', 1));
  t.end();
});

await t.test('owners share the count; a dropped owner gives back only its own slots', (t) => {
  const s = new ClientSlotTable();
  t.ok(s.acquire('a', 3, 1));
  t.ok(s.acquire('a', 3, 2));
  t.ok(s.acquire('b', 3, 2));
  t.ok(s.acquire('a', 3, 2));
  t.notOk(s.acquire('a', 3, 1), 'the limit holds over owners');
  s.release('b', 1); // owner 1 holds no b: ignored
  t.equal(s.countFor('b'), 1);
  s.dropOwner(2);
  t.equal(s.countFor('a'), 1, 'owner 1 keeps its slot');
  t.equal(s.countFor('b'), 0);
  t.ok(s.acquire('a', 3, 1));
  t.ok(s.acquire('a', 3, 1));
  t.notOk(s.acquire('a', 3, 1));
  s.dropOwner(2); // twice: nothing
  s.dropOwner(1);
  t.equal(s.clients, 0);
  t.end();
});
