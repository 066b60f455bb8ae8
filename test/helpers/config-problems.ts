// The config tests' view of a config text: what `check` would report, line by line.
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** The ConfigError message lines for `text` (loaded as c.yaml), or ['OK'] if it is valid. */
export function configProblems(text: string): string[] {
  try {
    loadConfigText(text, 'c.yaml');
    return ['OK'];
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
}
