CREATE TABLE `schedule_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`schedule_id` text NOT NULL,
	`scheduled_for` integer NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`chat_id` text,
	`user_message_id` text,
	`assistant_message_id` text,
	`missed` integer DEFAULT 0 NOT NULL,
	`error_code` text,
	`error_text` text,
	`dispatch_attempts` integer DEFAULT 0 NOT NULL,
	`counted` integer DEFAULT false NOT NULL,
	`claimed_at` integer NOT NULL,
	`dispatched_at` integer,
	`ended_at` integer,
	FOREIGN KEY (`schedule_id`) REFERENCES `schedules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `schedule_runs_occurrence_unique` ON `schedule_runs` (`schedule_id`,`scheduled_for`) WHERE "trigger" = 'schedule';--> statement-breakpoint
CREATE INDEX `schedule_runs_history_idx` ON `schedule_runs` (`schedule_id`,`scheduled_for`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `schedule_runs_message_unique` ON `schedule_runs` (`assistant_message_id`);--> statement-breakpoint
CREATE INDEX `schedule_runs_open_idx` ON `schedule_runs` (`status`,`claimed_at`) WHERE "status" IN ('pending', 'dispatched', 'queued');--> statement-breakpoint
CREATE INDEX `schedule_runs_uncounted_idx` ON `schedule_runs` (`schedule_id`) WHERE "counted" = 0;--> statement-breakpoint
CREATE TABLE `schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`prompt` text NOT NULL,
	`cron` text NOT NULL,
	`timezone` text NOT NULL,
	`target` text NOT NULL,
	`chat_id` text,
	`model` text NOT NULL,
	`permission_mode` text NOT NULL,
	`enabled` integer NOT NULL,
	`next_run_at` integer,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`pause_code` text,
	`pause_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `schedules_due_idx` ON `schedules` (`next_run_at`,`id`);--> statement-breakpoint
CREATE INDEX `schedules_user_created_idx` ON `schedules` (`user_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `schedules_chat_idx` ON `schedules` (`chat_id`);