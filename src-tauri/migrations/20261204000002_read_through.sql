-- When the user marks a conversation read, the activity time they had seen. A conversation list
-- fetched before the server learnt of that read must not bring the badge back.
ALTER TABLE conversations ADD COLUMN read_through TEXT;
