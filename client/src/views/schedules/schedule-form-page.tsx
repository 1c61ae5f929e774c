/**
 * Create or edit a schedule: name, prompt, cron rule, time zone (the browser's by default), target
 * (a new chat per run, or one of the user's chats), model, permission mode and on/off, with the
 * next occurrences previewed as the rule is typed. Errors sit beside their field.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useMemo } from "preact/hooks";
import type { PermissionMode } from "../../api/schemas";
import { chatList, settings } from "../../app";
import { scheduleDetail, scheduleForm, scheduleList } from "../../app-schedules";
import { navigate, schedulePath } from "../../models/router";
import type { FormValues, ScheduleForm } from "../../models/schedule-form";
import { ErrorLine, MenuButton, ModelSuggestions, PermissionOptions } from "../bits";
import { Link } from "../link";
import { browserZone, inZone, knownZones } from "./format";

/** The error under a field, referenced by the field's `aria-describedby`. */
function FieldError({ form, field }: { form: ScheduleForm; field: keyof FormValues }) {
  const text = form.fieldErrors.value[field];
  return text ? (
    <span id={`${field}-error`} class="error small" role="alert">
      {text}
    </span>
  ) : null;
}

function describedBy(form: ScheduleForm, field: keyof FormValues, hint?: string): string | undefined {
  const ids = [hint, form.fieldErrors.value[field] ? `${field}-error` : undefined].filter(Boolean);
  return ids.length > 0 ? ids.join(" ") : undefined;
}

type TextFieldName = "name" | "prompt" | "cron" | "timezone" | "model";

/** A labelled text field of the form, with its hint and its error read out with it. */
function TextField({
  form,
  field,
  label,
  hint,
  multiline = false,
  extra = {},
}: {
  form: ScheduleForm;
  field: TextFieldName;
  label: string;
  hint?: ComponentChildren;
  multiline?: boolean;
  extra?: Record<string, unknown>;
}) {
  const id = `schedule-${field}`;
  const control = {
    ...extra,
    id,
    name: field,
    value: form.values.value[field],
    "aria-invalid": form.fieldErrors.value[field] ? true : undefined,
    "aria-describedby": describedBy(form, field, hint ? `${field}-hint` : undefined),
    onInput: (e: Event) => form.set(field, (e.currentTarget as HTMLInputElement | HTMLTextAreaElement).value),
  };
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {multiline ? <textarea {...control} /> : <input {...control} />}
      {hint && (
        <span id={`${field}-hint`} class="muted small">
          {hint}
        </span>
      )}
      <FieldError form={form} field={field} />
    </div>
  );
}

function Preview({ form }: { form: ScheduleForm }) {
  const preview = form.preview.value;
  const { cron, timezone } = form.values.value;
  return (
    <div class="preview" aria-live="polite" aria-busy={form.previewLoading.value}>
      <h2 class="small-h">Next runs</h2>
      {preview && preview.occurrences.length > 0 ? (
        <ol class="occurrences">
          {preview.occurrences.map((o) => (
            <li key={o.at}>
              <time dateTime={o.utc}>{inZone(o.at, preview.timezone, o.local)}</time>
            </li>
          ))}
        </ol>
      ) : form.previewLoading.value ? (
        <p class="muted small">Working them out…</p>
      ) : (
        <p class="muted small">
          {cron.trim() === "" || timezone.trim() === ""
            ? "Type a rule to see when it runs."
            : form.fieldErrors.value.cron || form.fieldErrors.value.timezone
              ? "Fix the rule to see when it runs."
              : ""}
        </p>
      )}
      <ErrorLine text={form.previewError.value} />
    </div>
  );
}

function ChatChoice({ form }: { form: ScheduleForm }) {
  const values = form.values.value;
  const chats = chatList.items.value;
  const known = chats.some((c) => c.id === values.chatId);
  return (
    <div class="target-chat">
      <div class="field">
        <label for="schedule-chat">Chat</label>
        <select
          id="schedule-chat"
          value={values.chatId}
          disabled={values.targetType !== "chat"}
          aria-invalid={form.fieldErrors.value.chatId ? true : undefined}
          aria-describedby={describedBy(form, "chatId")}
          onChange={(e) => form.set("chatId", e.currentTarget.value)}
        >
          <option value="">{chats.length === 0 ? "No chats yet" : "Choose a chat…"}</option>
          {values.chatId !== "" && !known && <option value={values.chatId}>The chat it runs in now</option>}
          {chats.map((c) => (
            <option key={c.id} value={c.id}>
              {c.title}
            </option>
          ))}
        </select>
      </div>
      {chatList.nextCursor.value && values.targetType === "chat" && (
        <button type="button" onClick={() => void chatList.loadMore()} disabled={chatList.loading.value}>
          More chats
        </button>
      )}
      <FieldError form={form} field="chatId" />
    </div>
  );
}

function Form({ form }: { form: ScheduleForm }) {
  useEffect(() => () => form.dispose(), [form]);
  const v = form.values.value;
  const zones = useMemo(knownZones, []);
  const editing = form.original !== null;
  const cancelHref = form.original ? schedulePath(form.original.id) : "/schedules";
  return (
    <form
      class="stack schedule-form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        const saved = await form.submit();
        if (saved) {
          scheduleList.put(saved);
          navigate(schedulePath(saved.id));
        }
      }}
    >
      <TextField form={form} field="name" label="Name" extra={{ maxLength: 200, required: true }} />
      <TextField
        form={form}
        field="prompt"
        label="Prompt"
        multiline
        extra={{ rows: 5, maxLength: 20_000, required: true }}
      />
      <div class="rule">
        <TextField
          form={form}
          field="cron"
          label="Cron rule"
          hint={
            <>
              Five fields: minute, hour, day of month, month, day of week. <code>30 7 * * 1-5</code> is 07:30 on
              weekdays.
            </>
          }
          extra={{ class: "mono", placeholder: "30 7 * * 1-5", autoComplete: "off", spellcheck: false, required: true }}
        />
        <TextField
          form={form}
          field="timezone"
          label="Time zone"
          hint="Where the rule's hours are read: your browser's zone unless you choose another."
          extra={{ list: "schedule-zones", autoComplete: "off", spellcheck: false, required: true }}
        />
        <datalist id="schedule-zones">
          {zones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <Preview form={form} />
      </div>
      <fieldset class="target">
        <legend>Runs in</legend>
        <label class="choice">
          <input
            type="radio"
            name="target"
            checked={v.targetType === "new_chat"}
            onChange={() => form.set("targetType", "new_chat")}
          />
          A new chat for each run
        </label>
        <label class="choice">
          <input
            type="radio"
            name="target"
            checked={v.targetType === "chat"}
            onChange={() => form.set("targetType", "chat")}
          />
          One of my chats (a busy chat queues the run)
        </label>
        <ChatChoice form={form} />
      </fieldset>
      <TextField form={form} field="model" label="Model" extra={{ list: "schedule-models" }} />
      <ModelSuggestions id="schedule-models" />
      <div class="field">
        <label for="schedule-mode">Permission mode</label>
        <select
          id="schedule-mode"
          value={v.permissionMode}
          aria-describedby="mode-hint"
          onChange={(e) => form.set("permissionMode", e.currentTarget.value as PermissionMode)}
        >
          <PermissionOptions />
        </select>
        <span id="mode-hint" class="muted small">
          Nobody may be there to answer a permission prompt: “Accept file edits” or “Allow everything” let a run finish
          on its own.
        </span>
      </div>
      <label class="choice">
        <input type="checkbox" checked={v.enabled} onChange={(e) => form.set("enabled", e.currentTarget.checked)} />
        On: runs on its rule (off: paused)
      </label>
      <div class="actions">
        <button type="submit" class="primary" disabled={form.saving.value || !form.dirty.value}>
          {form.saving.value ? "Saving…" : editing ? "Save changes" : "Create schedule"}
        </button>
        <Link href={cancelHref} class="button">
          Cancel
        </Link>
      </div>
      <ErrorLine text={form.error.value} />
    </form>
  );
}

function NewForm() {
  const form = useMemo(
    () =>
      scheduleForm({
        defaults: { ...settings.defaults.peek(), timezone: browserZone() },
      }),
    [],
  );
  return <Form form={form} />;
}

function EditForm({ scheduleId }: { scheduleId: string }) {
  const detail = useMemo(() => scheduleDetail(scheduleId), [scheduleId]);
  useEffect(() => {
    void detail.loadSchedule();
  }, [detail]);
  const schedule = detail.schedule.value;
  const form = useMemo(() => (schedule ? scheduleForm({ schedule }) : null), [schedule?.id]);
  if (detail.notFound.value) return <p>No such schedule; it may have been deleted.</p>;
  if (!form) {
    return detail.loadError.value ? (
      <ErrorLine text={detail.loadError.value} small={false} />
    ) : (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  return <Form form={form} />;
}

export function ScheduleFormPage({ scheduleId }: { scheduleId: string | null }) {
  return (
    <main class="page schedules" id="main">
      <MenuButton />
      <p class="crumbs">
        <Link href={scheduleId ? schedulePath(scheduleId) : "/schedules"}>← Back</Link>
      </p>
      <h1>{scheduleId ? "Edit schedule" : "New schedule"}</h1>
      {scheduleId ? <EditForm scheduleId={scheduleId} /> : <NewForm />}
    </main>
  );
}
