// The floor of what Node itself costs as a forwarder: accept, connect to the origin, pipe both
// ways with half-close, no parsing, no logging. Usage: node node-pipe.mjs LISTEN_PORT TARGET_PORT
import { createServer, connect } from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);

createServer({ allowHalfOpen: true }, (client) => {
  const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
  const stop = () => { client.destroy(); upstream.destroy(); };
  client.on('error', stop);
  upstream.on('error', stop);
  client.pipe(upstream);
  upstream.pipe(client);
}).listen(listenPort, '127.0.0.1');
