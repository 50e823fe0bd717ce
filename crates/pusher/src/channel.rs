//! Channel names: at most 164 characters from `A-Z a-z 0-9 _ - = @ , . ;`.

use std::fmt;

pub const MAX_CHANNEL_NAME_LEN: usize = 164;

/// A channel name that satisfies Pusher's naming rules. Only [`ChannelName::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannel {
    #[error("channel name is empty")]
    Empty,
    #[error("channel name is longer than {MAX_CHANNEL_NAME_LEN} characters")]
    TooLong,
    #[error("channel name has a character outside A-Z a-z 0-9 _ - = @ , . ;")]
    Character,
}

/// Who may subscribe to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Public,
    /// `private-…`: the subscriber must present a signature from the application.
    Private,
    /// `presence-…`: private, plus a member list.
    Presence,
}

impl ChannelName {
    pub fn parse(name: impl Into<String>) -> Result<Self, InvalidChannel> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidChannel::Empty);
        }
        if name.len() > MAX_CHANNEL_NAME_LEN {
            return Err(InvalidChannel::TooLong);
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b)) {
            return Err(InvalidChannel::Character);
        }
        Ok(Self(name))
    }

    pub fn kind(&self) -> ChannelKind {
        if self.0.starts_with("private-") {
            ChannelKind::Private
        } else if self.0.starts_with("presence-") {
            ChannelKind::Presence
        } else {
            ChannelKind::Public
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_allowed_character_and_the_longest_name() {
        assert!(ChannelName::parse("private-azAZ9_=@,.;-").is_ok());
        assert!(ChannelName::parse("a".repeat(MAX_CHANNEL_NAME_LEN)).is_ok());
    }

    #[test]
    fn rejects_empty_long_and_foreign_names() {
        assert_eq!(ChannelName::parse(""), Err(InvalidChannel::Empty));
        assert_eq!(ChannelName::parse("a".repeat(MAX_CHANNEL_NAME_LEN + 1)), Err(InvalidChannel::TooLong));
        for bad in ["chat 1", "chat/1", "chat:1", "chat#1", "canción"] {
            assert_eq!(ChannelName::parse(bad), Err(InvalidChannel::Character), "{bad}");
        }
    }

    #[test]
    fn kind_follows_the_prefix() {
        assert_eq!(ChannelName::parse("private-chat-1").unwrap().kind(), ChannelKind::Private);
        assert_eq!(ChannelName::parse("presence-room").unwrap().kind(), ChannelKind::Presence);
        assert_eq!(ChannelName::parse("chat-1").unwrap().kind(), ChannelKind::Public);
        assert_eq!(ChannelName::parse("privatechat").unwrap().kind(), ChannelKind::Public);
    }
}
