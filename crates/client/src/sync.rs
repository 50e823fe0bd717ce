//! Catching up: Pusher never guarantees delivery, so after every start, reconnection and
//! (re)subscription the cache asks the server for what came after the last message it has.

use crate::cache::Message;
use crate::client::Core;
use crate::error::Result;

/// The page size for catch-up and history requests (the server's maximum).
pub const PAGE: u32 = 200;
/// How much history a conversation never opened before starts with.
pub const FIRST_PAGE: u32 = 50;

impl Core {
    /// Fetch the conversation list, then every message each conversation is missing.
    /// Returns the messages that were new to the cache.
    pub async fn sync_all(&self) -> Result<Vec<Message>> {
        let api = self.api().await?;
        let list = api.conversations().await?;
        let mut fresh = self.cache.store_conversations(&list).await?;
        for conversation in &list {
            let Some(last) = &conversation.ultimo_mensaje else { continue };
            if last.id > self.cache.synced_through(conversation.id).await? {
                fresh.extend(self.catch_up(conversation.id).await?);
            }
        }
        Ok(fresh)
    }

    /// Every message of one conversation after the cursor, page by page; a conversation never
    /// synced starts from its latest page.
    pub async fn catch_up(&self, conversation: i64) -> Result<Vec<Message>> {
        let api = self.api().await?;
        let mut cursor = self.cache.synced_through(conversation).await?;
        let mut fresh = Vec::new();
        if cursor == 0 {
            let page = api.messages(conversation, None, None, FIRST_PAGE).await?;
            fresh.extend(self.cache.store_messages(&page.mensajes).await?);
            cursor = page.mensajes.iter().map(|m| m.id).max().unwrap_or(0);
            self.cache.set_synced_through(conversation, cursor).await?;
            if cursor == 0 {
                return Ok(fresh);
            }
        }
        loop {
            let page = api.messages(conversation, Some(cursor), None, PAGE).await?;
            fresh.extend(self.cache.store_messages(&page.mensajes).await?);
            if let Some(last) = page.mensajes.iter().map(|m| m.id).max() {
                cursor = last;
                self.cache.set_synced_through(conversation, cursor).await?;
            }
            if !page.hay_mas {
                return Ok(fresh);
            }
        }
    }
}
