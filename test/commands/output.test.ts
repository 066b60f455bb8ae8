// The one stderr style of every command: prefix, wrapping, and commander's errors in one line.
import t from 'tap';
import { commanderErrorLine, errorText, warningLines, wrapText } from '../../src/commands/output.js';
import { ConfigError } from '../../src/errors.js';

await t.test('wrapText breaks at spaces, indents continuations, keeps long words whole', (t) => {
  t.same(wrapText('aaa bbb ccc', 7, '  '), ['aaa bbb', '  ccc']);
  t.same(wrapText('short', 80), ['short']);
  t.same(wrapText('x https://a-very-long-url.example/with/a/path y', 10, '  '), ['x', '  https://a-very-long-url.example/with/a/path', '  y']);
  const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
  const lines = wrapText(words, 30, '  ');
  t.ok(lines.every((l) => l.length <= 30), 'no line longer than the width');
  t.equal(lines.map((l) => l.trim()).join(' '), words, 'no word lost or split');
  t.end();
});

await t.test('warnings and errors carry the program prefix on every problem line', (t) => {
  t.same(warningLines('x'), ['sni-forwarder: warning: x']);
  t.equal(errorText(new Error('boom'), false), 'sni-forwarder: boom\n');
  const ce = new ConfigError([
    { file: 'c.yaml', line: 1, col: 2, path: 'a', message: 'm1' },
    { file: 'c.yaml', line: 0, col: 0, path: '', message: 'm2' },
  ]);
  t.equal(errorText(ce, true), 'sni-forwarder: c.yaml:1:2: a: m1\nsni-forwarder: c.yaml: m2\n', 'no stack for config mistakes even with --debug');
  t.match(errorText(new Error('boom'), true), /^sni-forwarder: Error: boom\n\s+at /, '--debug shows the stack');
  t.end();
});

await t.test('commanderErrorLine: one line, no help dump', (t) => {
  t.equal(commanderErrorLine("error: option '--format <format>' argument 'x' is invalid. Allowed choices are hosts, dnsmasq.\n", 'hosts'),
    'sni-forwarder: --format "x": expected one of hosts, dnsmasq\n');
  t.equal(commanderErrorLine("error: unknown option '--jsn'\n(Did you mean --json?)\n", 'route'),
    "sni-forwarder: unknown option '--jsn' (did you mean --json?); see sni-forwarder route --help\n");
  t.equal(commanderErrorLine("error: too many arguments for 'check'. Expected 0 arguments but got 1.\n", 'check'),
    "sni-forwarder: too many arguments for 'check'. Expected 0 arguments but got 1; see sni-forwarder check --help\n");
  t.end();
});
