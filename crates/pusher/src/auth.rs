//! Signatures, as in Pusher's "library auth reference": the HTTP API signs
//! `METHOD\nPATH\nsorted-query` and private channels sign `socket_id:channel_name`, both with
//! HMAC-SHA256 over the app secret, hex-encoded.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// An application's identity on a Pusher-compatible server.
#[derive(Clone)]
pub struct Credentials {
    pub app_id: String,
    pub key: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("app_id", &self.app_id)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn new(app_id: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { app_id: app_id.into(), key: key.into(), secret: secret.into() }
    }

    /// HMAC-SHA256 of `message` under the app secret, lowercase hex.
    pub fn sign(&self, message: &str) -> String {
        hmac_hex(self.secret.as_bytes(), message.as_bytes())
    }

    /// The `auth` value a client sends to subscribe `socket_id` to a private channel: `key:signature`.
    pub fn channel_auth(&self, socket_id: &str, channel_name: &str) -> String {
        format!("{}:{}", self.key, self.sign(&format!("{socket_id}:{channel_name}")))
    }

    /// Whether `auth` authorizes `socket_id` on `channel_name` (constant-time comparison).
    pub fn verify_channel_auth(&self, socket_id: &str, channel_name: &str, auth: &str) -> bool {
        let Some((key, signature)) = auth.split_once(':') else {
            return false;
        };
        if key != self.key {
            return false;
        }
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(self.secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(format!("{socket_id}:{channel_name}").as_bytes());
        mac.verify_slice(&signature).is_ok()
    }

    /// The query parameters of a signed HTTP API request (`auth_key`, `auth_timestamp`, `auth_version`,
    /// `body_md5` when there is a body, plus `params`), `auth_signature` last.
    pub fn signed_query(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: Option<&[u8]>,
        timestamp: u64,
    ) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        query.push(("auth_key".into(), self.key.clone()));
        query.push(("auth_timestamp".into(), timestamp.to_string()));
        query.push(("auth_version".into(), "1.0".into()));
        if let Some(body) = body {
            query.push(("body_md5".into(), body_md5(body)));
        }
        let signature = self.sign(&string_to_sign(method, path, &query));
        query.push(("auth_signature".into(), signature));
        query
    }
}

/// `METHOD\nPATH\nk1=v1&k2=v2…`, keys lowercased and sorted, values unescaped, `auth_signature` left out.
pub fn string_to_sign(method: &str, path: &str, query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, &str)> = query
        .iter()
        .filter(|(k, _)| k != "auth_signature")
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .collect();
    pairs.sort();
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}\n{}\n{}", method.to_ascii_uppercase(), path, joined.join("&"))
}

/// Lowercase hex MD5 of a request body, as `body_md5` carries it.
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Why an HTTP API request was refused by [`verify_request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestAuthError {
    #[error("missing query parameter {0}")]
    Missing(&'static str),
    #[error("unknown auth_key")]
    UnknownKey,
    #[error("unsupported auth_version")]
    Version,
    #[error("auth_timestamp is more than {0} seconds away from the server's clock")]
    Stale(u64),
    #[error("body_md5 does not match the body")]
    BodyMd5,
    #[error("invalid signature")]
    Signature,
}

/// Check a signed HTTP API request the way Pusher does: key, version, timestamp within `max_skew`
/// seconds of `now`, body MD5, then the signature (constant-time).
pub fn verify_request(
    credentials: &Credentials,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
    now: u64,
    max_skew: u64,
) -> Result<(), RequestAuthError> {
    let get = |name: &'static str| {
        query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or(RequestAuthError::Missing(name))
    };
    if get("auth_key")? != credentials.key {
        return Err(RequestAuthError::UnknownKey);
    }
    if get("auth_version")? != "1.0" {
        return Err(RequestAuthError::Version);
    }
    let timestamp: u64 = get("auth_timestamp")?.parse().map_err(|_| RequestAuthError::Stale(max_skew))?;
    if timestamp.abs_diff(now) > max_skew {
        return Err(RequestAuthError::Stale(max_skew));
    }
    if !body.is_empty() && get("body_md5")? != body_md5(body) {
        return Err(RequestAuthError::BodyMd5);
    }
    let signature = hex::decode(get("auth_signature")?).map_err(|_| RequestAuthError::Signature)?;
    let mut mac = HmacSha256::new_from_slice(credentials.secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign(method, path, query).as_bytes());
    mac.verify_slice(&signature).map_err(|_| RequestAuthError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked examples of Pusher's library auth reference.
    fn documented() -> Credentials {
        Credentials::new("3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
    }
    const BODY: &str = r#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;

    #[test]
    fn private_channel_auth_matches_the_documented_example() {
        assert_eq!(
            documented().channel_auth("1234.1234", "private-foobar"),
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
    }

    #[test]
    fn channel_auth_verification_rejects_other_sockets_channels_and_keys() {
        let c = documented();
        let auth = c.channel_auth("1234.1234", "private-foobar");
        assert!(c.verify_channel_auth("1234.1234", "private-foobar", &auth));
        assert!(!c.verify_channel_auth("1234.1235", "private-foobar", &auth));
        assert!(!c.verify_channel_auth("1234.1234", "private-foobaz", &auth));
        assert!(!c.verify_channel_auth("1234.1234", "private-foobar", &auth.replacen("278d", "378d", 1)));
        assert!(!c.verify_channel_auth("1234.1234", "private-foobar", "no-colon"));
        assert!(!c.verify_channel_auth("1234.1234", "private-foobar", "278d425bdf160c739803:zz"));
    }

    #[test]
    fn http_request_signature_matches_the_documented_example() {
        assert_eq!(body_md5(BODY.as_bytes()), "ec365a775a4cd0599faeb73354201b6f");
        let query = documented().signed_query("POST", "/apps/3/events", &[], Some(BODY.as_bytes()), 1353088179);
        let signature = &query.iter().find(|(k, _)| k == "auth_signature").unwrap().1;
        assert_eq!(signature, "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
    }

    #[test]
    fn verification_accepts_the_example_and_rejects_tampering() {
        let c = documented();
        let query = c.signed_query("POST", "/apps/3/events", &[], Some(BODY.as_bytes()), 1353088179);
        let ok = |q: &[(String, String)], body: &str, now: u64| {
            verify_request(&c, "POST", "/apps/3/events", q, body.as_bytes(), now, 600)
        };
        assert_eq!(ok(&query, BODY, 1353088179 + 600), Ok(()));
        assert_eq!(ok(&query, BODY, 1353088179 + 601), Err(RequestAuthError::Stale(600)));
        assert_eq!(ok(&query, &BODY.replace("foo", "bar"), 1353088179), Err(RequestAuthError::BodyMd5));
        let mut forged = query.clone();
        forged.insert(0, ("info".into(), "user_count".into()));
        assert_eq!(ok(&forged, BODY, 1353088179), Err(RequestAuthError::Signature));
        let wrong_key = Credentials::new("3", "other", "7ad3773142a6692b25b8");
        assert_eq!(
            verify_request(&wrong_key, "POST", "/apps/3/events", &query, BODY.as_bytes(), 1353088179, 600),
            Err(RequestAuthError::UnknownKey)
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        assert!(!format!("{:?}", documented()).contains("7ad3773142a6692b25b8"));
    }
}
