CREATE TABLE `chat_deletions` (
	`chat_id` text PRIMARY KEY NOT NULL,
	`requested_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `chat_deletions_next_idx` ON `chat_deletions` (`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `messages_status_updated_idx` ON `messages` (`status`,`updated_at`);