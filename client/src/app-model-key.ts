/**
 * The model-key settings instance, loaded with the settings page's chunk. A change of user forgets
 * what it showed.
 */
import { modelKeyApi } from "./api/model-key";
import { auth } from "./app";
import { ModelKeySettings } from "./models/model-key";

export const modelKey = new ModelKeySettings(modelKeyApi);

let userId = auth.user.peek()?.id ?? null;
auth.user.subscribe((user) => {
  const next = user?.id ?? null;
  if (next !== userId) modelKey.reset();
  userId = next;
});
