import type { DataPathSetting } from '../config/types.js';
import { SetupError } from '../errors.js';
import type { DataPath } from './pipe.js';
import { userBuffersAvailable } from './user-buffer.js';

/**
 * The environment variable that forces the stream path without editing the config, e.g. from
 * a systemd drop-in (`Environment=SNI_FORWARDER_DATA_PATH=streams`). `auto` leaves it to the config.
 */
export const DATA_PATH_ENV = 'SNI_FORWARDER_DATA_PATH';

/** The data path a process relays on, and why (for the start log line). */
export interface DataPathChoice {
  readonly dataPath: DataPath;
  /** `config`, `env` or `auto`. */
  readonly source: 'config' | 'env' | 'auto';
  /** True when `auto` wanted user buffers and this Node cannot do them (a 2.7x CPU cost per GiB). */
  readonly fallback: boolean;
}

/**
 * Picks the data path from the config's `data_path`, the value of DATA_PATH_ENV (undefined when
 * unset) and whether this Node offers user-buffer reads. Throws an Error naming the variable
 * when the environment holds anything but `auto` or `streams`.
 */
export function chooseDataPath(setting: DataPathSetting, env: string | undefined, available = userBuffersAvailable): DataPathChoice {
  if (env !== undefined && env !== '' && env !== 'auto' && env !== 'streams') {
    throw new SetupError(`${DATA_PATH_ENV}=${JSON.stringify(env)}: expected auto or streams`);
  }
  if (env === 'streams') return { dataPath: 'streams', source: 'env', fallback: false };
  if (setting === 'streams') return { dataPath: 'streams', source: 'config', fallback: false };
  return available
    ? { dataPath: 'user-buffers', source: 'auto', fallback: false }
    : { dataPath: 'streams', source: 'auto', fallback: true };
}
