//! Whatever a client sends, the relay's protocol state machine answers with well-formed frames and
//! never panics. Each input line is one WebSocket text frame on one connection.
#![no_main]

use chatstudy_pusher::protocol::Frame;
use chatstudy_pusher::relay::{Connection, Relay, RelayConfig};
use chatstudy_pusher::Credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Frame::parse(text);
    let relay = Relay::new(RelayConfig::new(Credentials::new("app", "key", "secret")));
    let (mut connection, _queue) = Connection::new(relay);
    for line in text.split('\n') {
        for reply in connection.handle(line) {
            assert!(Frame::parse(&reply).is_ok(), "the relay sent a malformed frame: {reply}");
        }
    }
});
