/**
 * A page or panel loaded on first use, so the first page's JavaScript stays small: renders
 * nothing (or `fallback`) until its chunk arrives, then the component. A failed load says so.
 */
import { signal } from "@preact/signals";
import { type ComponentChildren, type ComponentType, h } from "preact";

export function lazy<P extends object>(
  load: () => Promise<ComponentType<P>>,
  fallback: ComponentChildren = null,
): ComponentType<P> {
  const loaded = signal<ComponentType<P> | null>(null);
  const failed = signal(false);
  let started = false;
  return function Lazy(props: P) {
    if (!started) {
      started = true;
      load().then(
        (component) => {
          loaded.value = component;
        },
        (error: unknown) => {
          console.error("could not load a part of the page", error);
          failed.value = true;
        },
      );
    }
    if (failed.value)
      return h("p", { class: "error", role: "alert" }, "This part of the page did not load; reload to try again.");
    const Component = loaded.value;
    return Component ? h(Component, props) : h("div", { class: "boot", role: "status" }, fallback);
  };
}
