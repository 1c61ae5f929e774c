/**
 * The create/edit form of a schedule: its fields, a live preview of the next occurrences
 * (`POST /api/schedules/preview`, debounced while the person types, only the newest answer shown,
 * the server's `invalid_cron` / `invalid_timezone` message beside its field), and saving. Editing
 * sends only what changed; `enabled` goes through pause/resume, as the API has it.
 */
import { computed, signal } from "@preact/signals";
import { ApiError, messageOf } from "../api/http";
import type { Preview, Schedule, ScheduleApi, ScheduleInput, SchedulePatch } from "../api/schedules";
import type { PermissionMode } from "../api/schemas";
import type { Transport } from "../stream/transport";

export type FormValues = {
  name: string;
  prompt: string;
  cron: string;
  timezone: string;
  targetType: "new_chat" | "chat";
  /** The target chat when `targetType` is "chat"; "" until one is chosen. */
  chatId: string;
  model: string;
  permissionMode: PermissionMode;
  enabled: boolean;
};
export type FieldErrors = Partial<Record<keyof FormValues, string>>;
export type FormDefaults = { model: string; permissionMode: PermissionMode; timezone: string };
export type Timers = Pick<Transport, "setTimeout" | "clearTimeout">;
type FormApi = Pick<ScheduleApi, "preview" | "createSchedule" | "updateSchedule" | "pauseSchedule" | "resumeSchedule">;

/** How long typing must pause before the preview is asked for. */
export const PREVIEW_DEBOUNCE_MS = 350;
export const PREVIEW_COUNT = 5;

export function valuesOf(schedule: Schedule): FormValues {
  return {
    name: schedule.name,
    prompt: schedule.prompt,
    cron: schedule.cron,
    timezone: schedule.timezone,
    targetType: schedule.target.type,
    chatId: schedule.target.type === "chat" ? (schedule.target.chatId ?? "") : "",
    model: schedule.model,
    permissionMode: schedule.permissionMode,
    enabled: schedule.enabled,
  };
}

export class ScheduleForm {
  readonly values;
  readonly preview = signal<Preview | null>(null);
  readonly previewLoading = signal(false);
  /** A preview failure that is not about the cron or the zone (the network, a 429). */
  readonly previewError = signal<string | null>(null);
  readonly fieldErrors = signal<FieldErrors>({});
  readonly error = signal<string | null>(null);
  readonly saving = signal(false);
  /** The schedule being edited, or null for a new one. */
  readonly original: Schedule | null;
  readonly dirty = computed(() => this.original === null || this.#patch(this.values.value, this.original) !== null);
  readonly #api: FormApi;
  readonly #timers: Timers;
  readonly #debounceMs: number;
  #timer: ReturnType<Timers["setTimeout"]> | null = null;
  #inFlight: AbortController | null = null;
  #generation = 0;

  constructor(
    deps: { api: FormApi; timers: Timers; debounceMs?: number },
    start: { schedule: Schedule } | { defaults: FormDefaults },
  ) {
    this.#api = deps.api;
    this.#timers = deps.timers;
    this.#debounceMs = deps.debounceMs ?? PREVIEW_DEBOUNCE_MS;
    this.original = "schedule" in start ? start.schedule : null;
    this.values = signal<FormValues>(
      "schedule" in start
        ? valuesOf(start.schedule)
        : {
            name: "",
            prompt: "",
            cron: "",
            timezone: start.defaults.timezone,
            targetType: "new_chat",
            chatId: "",
            model: start.defaults.model,
            permissionMode: start.defaults.permissionMode,
            enabled: true,
          },
    );
    // An existing schedule shows its next occurrences at once.
    if (this.original) this.#schedulePreview(0);
  }

  set<K extends keyof FormValues>(key: K, value: FormValues[K]): void {
    const before = this.values.peek();
    if (before[key] === value) return;
    this.values.value = { ...before, [key]: value };
    const { [key]: _fixed, ...others } = this.fieldErrors.peek();
    this.fieldErrors.value = others;
    this.error.value = null;
    if (key === "cron" || key === "timezone") this.#schedulePreview(this.#debounceMs);
  }

  /** Stops the pending preview and ignores any answer still on its way (the form went away). */
  dispose(): void {
    this.#generation++;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#inFlight?.abort();
    this.#inFlight = null;
  }

  /** Saves: creates the schedule, or sends what changed. The saved schedule, or null (errors are in signals). */
  async submit(): Promise<Schedule | null> {
    if (this.saving.peek()) return null;
    const values = this.values.peek();
    const problems = this.#check(values);
    this.fieldErrors.value = problems;
    this.error.value = null;
    if (Object.keys(problems).length > 0) return null;
    this.saving.value = true;
    try {
      return this.original ? await this.#update(this.original, values) : await this.#create(values);
    } catch (error: unknown) {
      this.#showSaveError(error);
      return null;
    } finally {
      this.saving.value = false;
    }
  }

  async #create(values: FormValues): Promise<Schedule> {
    const input: ScheduleInput = {
      name: values.name.trim(),
      prompt: values.prompt,
      cron: values.cron.trim(),
      timezone: values.timezone.trim(),
      target: values.targetType === "chat" ? { type: "chat", chatId: values.chatId } : { type: "new_chat" },
      model: values.model.trim(),
      permissionMode: values.permissionMode,
      enabled: values.enabled,
    };
    return (await this.#api.createSchedule(input)).schedule;
  }

  async #update(original: Schedule, values: FormValues): Promise<Schedule> {
    let saved = original;
    const patch = this.#patch(values, original);
    if (patch && Object.keys(patch).length > 0) saved = (await this.#api.updateSchedule(original.id, patch)).schedule;
    if (values.enabled !== saved.enabled) {
      saved = values.enabled
        ? (await this.#api.resumeSchedule(original.id)).schedule
        : (await this.#api.pauseSchedule(original.id)).schedule;
    }
    return saved;
  }

  /** The fields that differ from the schedule; `{}` when only `enabled` changed, null when nothing did. */
  #patch(values: FormValues, original: Schedule): SchedulePatch | null {
    const patch: SchedulePatch = {};
    const was = valuesOf(original);
    if (values.name.trim() !== was.name) patch.name = values.name.trim();
    if (values.prompt !== was.prompt) patch.prompt = values.prompt;
    if (values.cron.trim() !== was.cron) patch.cron = values.cron.trim();
    if (values.timezone.trim() !== was.timezone) patch.timezone = values.timezone.trim();
    if (values.model.trim() !== was.model) patch.model = values.model.trim();
    if (values.permissionMode !== was.permissionMode) patch.permissionMode = values.permissionMode;
    if (values.targetType !== was.targetType || (values.targetType === "chat" && values.chatId !== was.chatId)) {
      patch.target = values.targetType === "chat" ? { type: "chat", chatId: values.chatId } : { type: "new_chat" };
    }
    if (Object.keys(patch).length > 0) return patch;
    return values.enabled !== was.enabled ? {} : null;
  }

  #check(values: FormValues): FieldErrors {
    const problems: FieldErrors = {};
    if (values.name.trim() === "") problems.name = "Give the schedule a name.";
    if (values.prompt.trim() === "") problems.prompt = "Write the prompt the agent gets on each run.";
    if (values.cron.trim() === "") problems.cron = "Enter a cron expression, such as 30 7 * * 1-5.";
    if (values.timezone.trim() === "") problems.timezone = "Choose a time zone.";
    if (values.model.trim() === "") problems.model = "Name a model.";
    if (values.targetType === "chat" && values.chatId === "") problems.chatId = "Choose the chat the runs go to.";
    return problems;
  }

  #showSaveError(error: unknown): void {
    const code = error instanceof ApiError ? error.code : "";
    const field: keyof FormValues | null =
      code === "invalid_cron"
        ? "cron"
        : code === "invalid_timezone"
          ? "timezone"
          : code === "chat_not_found" || code === "target_chat_deleted"
            ? "chatId"
            : null;
    if (field) this.fieldErrors.value = { ...this.fieldErrors.peek(), [field]: messageOf(error) };
    else this.error.value = messageOf(error);
  }

  #schedulePreview(delayMs: number): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      void this.#runPreview();
    }, delayMs);
  }

  async #runPreview(): Promise<void> {
    const generation = ++this.#generation;
    this.#inFlight?.abort();
    const { cron, timezone } = this.values.peek();
    this.previewError.value = null;
    if (cron.trim() === "" || timezone.trim() === "") {
      this.#inFlight = null;
      this.preview.value = null;
      this.previewLoading.value = false;
      return;
    }
    const controller = new AbortController();
    this.#inFlight = controller;
    this.previewLoading.value = true;
    try {
      const preview = await this.#api.preview(cron.trim(), timezone.trim(), PREVIEW_COUNT, controller.signal);
      if (generation !== this.#generation) return;
      this.preview.value = preview;
      this.#setPreviewErrors(null, null);
    } catch (error: unknown) {
      if (generation !== this.#generation) return;
      this.preview.value = null;
      const code = error instanceof ApiError ? error.code : "";
      if (code === "invalid_cron") this.#setPreviewErrors(messageOf(error), null);
      else if (code === "invalid_timezone") this.#setPreviewErrors(null, messageOf(error));
      else this.previewError.value = messageOf(error);
    } finally {
      if (generation === this.#generation) {
        this.previewLoading.value = false;
        this.#inFlight = null;
      }
    }
  }

  #setPreviewErrors(cron: string | null, timezone: string | null): void {
    const { cron: _c, timezone: _t, ...others } = this.fieldErrors.peek();
    this.fieldErrors.value = {
      ...others,
      ...(cron ? { cron } : {}),
      ...(timezone ? { timezone } : {}),
    };
  }
}
