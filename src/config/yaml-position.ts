// Where a YAML syntax error really is (issue #16). The yaml parser reports an indentation
// mistake at the whitespace before the offending key (column 1), an over-indented line at the
// end of the line above it, and an unclosed quote at the end of the file; an operator wants the
// line and column of the thing to fix. Pure: text and an error in, an offset and a message out.
import type { YAMLError } from 'yaml';

/** A YAML error moved to the offending token, with a message that says what to do. */
export interface YamlErrorAt {
  readonly offset: number;
  readonly message: string;
}

const MESSAGES: Partial<Record<YAMLError['code'], string>> = {
  DUPLICATE_KEY: 'duplicate key: each key may appear once in a mapping',
  MULTIPLE_DOCS: 'more than one YAML document ("---"): the config is a single document',
  TAB_AS_INDENT: 'tabs are not allowed for indentation; use spaces',
  BLOCK_AS_IMPLICIT_KEY: 'indentation: this line is indented deeper than the key above it, which already has a value; line it up with that key',
  MULTILINE_IMPLICIT_KEY: 'indentation: this line is indented deeper than the key above it, which already has a value; line it up with that key',
};

/** Locates `e` in `text` (see the file comment) and words it; codes not handled keep yaml's message and position. */
export function locateYamlError(text: string, e: YAMLError): YamlErrorAt {
  const yamlMessage = e.message.split('\n')[0] ?? e.message;
  const message = MESSAGES[e.code] ??
    (/^All (mapping|sequence) items must start at the same column/.test(yamlMessage)
      ? 'indentation: this line does not start in the same column as the lines above it at its level; line it up with them'
      : yamlMessage);
  if (e.code === 'BLOCK_AS_IMPLICIT_KEY' || e.code === 'MULTILINE_IMPLICIT_KEY') {
    // Reported at the end of the key's line; the mistake is the next line that holds something.
    return { offset: firstTokenAfterLine(text, e.pos[0]), message };
  }
  if (e.code === 'MISSING_CHAR' && /^Missing closing (["'])/.test(e.message)) {
    const quote = e.message.includes('"quote') ? '"' : "'";
    const open = openingQuote(text, e.pos[0], quote);
    if (open !== undefined) return { offset: open, message: `this quoted string is not closed: add the closing ${quote}` };
  }
  if (e.code === 'MISSING_CHAR' && e.message.startsWith('Sequence item without - indicator')) {
    return {
      offset: tokenOnLine(text, e.pos[0]),
      message: 'indentation: this line is not in the column of the keys of the list item above; line it up with them, or start a new item with "- "',
    };
  }
  return { offset: e.code === 'TAB_AS_INDENT' ? e.pos[0] : tokenOnLine(text, e.pos[0]), message };
}

/** From `offset`, skips spaces (not line ends) to the first character of the token there. */
function tokenOnLine(text: string, offset: number): number {
  let i = offset;
  while (i < text.length && text[i] === ' ') i++;
  return i < text.length && text[i] !== '\n' && text[i] !== '\r' ? i : offset;
}

/** The first non-blank, non-comment character on a line after the one holding `offset`. */
function firstTokenAfterLine(text: string, offset: number): number {
  let i = text.indexOf('\n', offset);
  while (i !== -1 && i < text.length) {
    const start = i + 1;
    const end = text.indexOf('\n', start) === -1 ? text.length : text.indexOf('\n', start);
    const line = text.slice(start, end);
    const lead = line.length - line.trimStart().length;
    if (line.trim() !== '' && !line.trimStart().startsWith('#')) return start + lead;
    i = end === text.length ? -1 : end;
  }
  return offset;
}

/**
 * The opening quote of a quoted string that runs to `end` unclosed: the last quote before `end`
 * that is not escaped ("\"" in double quotes, "''" in single quotes).
 */
function openingQuote(text: string, end: number, quote: string): number | undefined {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    if (quote === '"' && text[i - 1] === '\\') continue;
    if (quote === "'" && (text[i - 1] === "'" || text[i + 1] === "'")) continue;
    return i;
  }
  return undefined;
}
