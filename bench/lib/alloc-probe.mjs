// Preloaded (node --import) into the forwarder and the Node pipe by the bench: counts the bytes
// the process allocated on the V8 heap since it started, and answers that count on a loopback
// TCP port (BENCH_ALLOC_PORT) to whoever connects, as one JSON line.
//
// How: between two garbage collections the heap only grows by what was allocated, so the bytes
// allocated are the sum over GCs of (used before this GC − used after the previous one), plus
// the growth since the last GC. v8.GCProfiler reports used_heap_size before and after every GC
// (recorded in C++, handed over only when the bench asks). Off-heap memory (Buffers' backing
// stores, socket handles) is not counted; a Buffer's JS object is.
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { GCProfiler, getHeapStatistics } from 'node:v8';

const port = Number(process.env.BENCH_ALLOC_PORT);
let profiler = new GCProfiler();
profiler.start();
let allocated = 0;
let lastUsed = getHeapStatistics().used_heap_size;
let gcs = 0;

function sample() {
  const { statistics } = profiler.stop();
  profiler = new GCProfiler();
  profiler.start();
  for (const s of statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - lastUsed;
    lastUsed = s.afterGC.heapStatistics.usedHeapSize;
    gcs++;
  }
  return { allocatedBytes: allocated + getHeapStatistics().used_heap_size - lastUsed, gcs };
}

// A cluster worker inherits the --import: only the process started by the bench answers.
if (Number.isInteger(port) && port > 0 && cluster.isPrimary) {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.end(`${JSON.stringify(sample())}\n`);
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
