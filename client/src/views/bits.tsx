/**
 * Small pieces several views share: the error line shown next to the action that failed, the
 * button that opens the chat list drawer on narrow screens, and the model and permission choices.
 */

import { permissionModes } from "../api/schemas";
import { drawerOpen } from "../app";
import { permissionModeLabels, suggestedModels } from "../models/settings";

/** An error in plain words beside what failed; renders nothing without one. */
export function ErrorLine({ text, small = true }: { text: string | null | undefined; small?: boolean }) {
  if (!text) return null;
  return (
    <p class={small ? "error small" : "error"} role="alert">
      {text}
    </p>
  );
}

/** Opens and closes the chat list (shown only on narrow screens, where the list is a drawer). */
export function MenuButton() {
  return (
    <button
      type="button"
      class="icon menu"
      aria-label="Show chats"
      aria-controls="sidebar"
      aria-expanded={drawerOpen.value}
      onClick={() => (drawerOpen.value = !drawerOpen.value)}
    >
      ☰
    </button>
  );
}

/** Model names to suggest in a model field (`list={id}`); any valid name may be typed. */
export function ModelSuggestions({ id }: { id: string }) {
  return (
    <datalist id={id}>
      {suggestedModels.map((m) => (
        <option key={m} value={m} />
      ))}
    </datalist>
  );
}

/** The permission modes as `<option>`s, in plain words. */
export function PermissionOptions() {
  return (
    <>
      {permissionModes.map((m) => (
        <option key={m} value={m}>
          {permissionModeLabels[m]}
        </option>
      ))}
    </>
  );
}
