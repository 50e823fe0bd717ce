// The official `pusher` Node SDK triggering through a Pusher-compatible HTTP API: one event, then a
// batch. Prints {"ok":true} or the error, for the Rust test.
import Pusher from 'pusher';

const { APP_ID, KEY, SECRET, HOST, PORT, CHANNEL } = process.env;
const pusher = new Pusher({ appId: APP_ID, key: KEY, secret: SECRET, host: HOST, port: PORT, useTLS: false });

try {
  await pusher.trigger(CHANNEL, 'desde-node', { origen: 'pusher sdk' });
  await pusher.triggerBatch([
    { channel: CHANNEL, name: 'lote', data: { n: 1 } },
    { channel: CHANNEL, name: 'lote', data: { n: 2 } },
  ]);
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, status: error.status ?? null, body: String(error.body ?? error) }));
  process.exit(1);
}
