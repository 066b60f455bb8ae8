import t from 'tap';
t.test('arith', async (t) => { t.equal(1 + 1, 2); });
