// chooseDataPath: the config, the environment and this Node's abilities decide the data path.
import t from 'tap';
import { chooseDataPath } from '../../src/relay/data-path.js';

const CASES = [
  { name: 'auto on a Node with user buffers', setting: 'auto', env: undefined, available: true, want: { dataPath: 'user-buffers', source: 'auto', fallback: false } },
  { name: 'auto on a Node without them falls back, and says so', setting: 'auto', env: undefined, available: false, want: { dataPath: 'streams', source: 'auto', fallback: true } },
  { name: 'config streams', setting: 'streams', env: undefined, available: true, want: { dataPath: 'streams', source: 'config', fallback: false } },
  { name: 'env streams over config auto', setting: 'auto', env: 'streams', available: true, want: { dataPath: 'streams', source: 'env', fallback: false } },
  { name: 'env auto leaves it to the config', setting: 'streams', env: 'auto', available: true, want: { dataPath: 'streams', source: 'config', fallback: false } },
  { name: 'empty env is unset', setting: 'auto', env: '', available: true, want: { dataPath: 'user-buffers', source: 'auto', fallback: false } },
] as const;

for (const c of CASES) {
  t.same(chooseDataPath(c.setting, c.env, c.available), c.want, c.name);
}

t.throws(() => chooseDataPath('auto', 'user-buffers', true), { message: 'SNI_FORWARDER_DATA_PATH="user-buffers": expected auto or streams' },
  'the environment can only force streams');
