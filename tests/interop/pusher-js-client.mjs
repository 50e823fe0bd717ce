// pusher-js (the official browser/Node client) subscribing through Chatstudy: it connects to the
// relay, authorizes a private channel at the server's /pusher/auth with a bearer token, and prints one
// JSON line per happening, which the Rust test reads.
import Pusher from 'pusher-js';

const { KEY, HOST, PORT, AUTH_ENDPOINT, TOKEN, CHANNEL, EVENT } = process.env;
const say = (line) => console.log(JSON.stringify(line));

const pusher = new Pusher(KEY, {
  cluster: 'mt1',
  wsHost: HOST,
  wsPort: Number(PORT),
  forceTLS: false,
  enabledTransports: ['ws'],
  disableStats: true,
  channelAuthorization: {
    endpoint: AUTH_ENDPOINT,
    transport: 'ajax',
    headers: { Authorization: `Bearer ${TOKEN}` },
  },
});

const channel = pusher.subscribe(CHANNEL);
channel.bind('pusher:subscription_succeeded', () => say({ type: 'subscribed', socket_id: pusher.connection.socket_id }));
channel.bind('pusher:subscription_error', (error) => {
  say({ type: 'subscription_error', status: error.status ?? null });
  process.exit(3);
});
channel.bind(EVENT, (data) => {
  say({ type: 'event', data });
  pusher.disconnect();
  process.exit(0);
});
setTimeout(() => {
  say({ type: 'timeout' });
  process.exit(4);
}, 20000);
