/**
 * The read-only file panel of one chat's sandbox: a tree of directories listed on demand, and a
 * viewer for one file (text shown when small and not binary; anything can be downloaded). Paths
 * are workspace-relative, as the files API takes them.
 */
import { signal } from "@preact/signals";
import type { Api } from "../api/client";
import { ApiError, messageOf } from "../api/http";
import type { FileEntry } from "../api/schemas";

export type DirState = { entries: readonly FileEntry[] | null; error: string | null; open: boolean };
export type Viewed = {
  path: string;
  size: number | null;
  text: string | null;
  note: string | null;
  loading: boolean;
};

/** Files larger than this are offered for download instead of being shown. */
export const MAX_VIEW_BYTES = 512 * 1024;

export class FilePanel {
  readonly open = signal(false);
  readonly dirs = signal<Readonly<Record<string, DirState>>>({});
  readonly viewed = signal<Viewed | null>(null);
  readonly #chatId: string;
  readonly #api: Pick<Api, "listFiles" | "fileUrl">;
  readonly #fetch: typeof fetch;

  constructor(chatId: string, api: Pick<Api, "listFiles" | "fileUrl">, fetcher: typeof fetch) {
    this.#chatId = chatId;
    this.#api = api;
    this.#fetch = fetcher;
  }

  toggle(): void {
    this.open.value = !this.open.peek();
    if (this.open.peek()) void this.refresh();
  }

  /** Reloads the root and every open directory. */
  async refresh(): Promise<void> {
    const open = Object.entries(this.dirs.peek())
      .filter(([, d]) => d.open)
      .map(([path]) => path);
    await Promise.all([...new Set(["", ...open])].map((path) => this.#list(path)));
  }

  async toggleDir(path: string): Promise<void> {
    const dir = this.dirs.peek()[path];
    if (dir?.open) {
      this.#set(path, { ...dir, open: false });
      return;
    }
    this.#set(path, { entries: dir?.entries ?? null, error: null, open: true });
    await this.#list(path);
  }

  downloadUrl(path: string): string {
    return this.#api.fileUrl(this.#chatId, path);
  }

  async view(path: string, size: number): Promise<void> {
    if (size > MAX_VIEW_BYTES) {
      this.viewed.value = { path, size, text: null, note: "Too large to show here; download it.", loading: false };
      return;
    }
    this.viewed.value = { path, size, text: null, note: null, loading: true };
    try {
      const res = await this.#fetch(this.downloadUrl(path), { credentials: "same-origin" });
      if (!res.ok) throw new ApiError(res.status, "file_error", `The file could not be read (${res.status}).`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (this.viewed.peek()?.path !== path) return;
      const binary = bytes.subarray(0, 8192).includes(0);
      const text = binary ? null : new TextDecoder().decode(bytes);
      const note = binary ? "A binary file; download it to open it." : null;
      this.viewed.value = { path, size: bytes.length, text, note, loading: false };
    } catch (error: unknown) {
      if (this.viewed.peek()?.path === path) {
        this.viewed.value = { path, size, text: null, note: messageOf(error), loading: false };
      }
    }
  }

  closeViewer(): void {
    this.viewed.value = null;
  }

  async #list(path: string): Promise<void> {
    const before = this.dirs.peek()[path];
    try {
      const listing = await this.#api.listFiles(this.#chatId, path);
      const entries = [...listing.entries].sort(
        (a, b) => Number(b.type === "dir") - Number(a.type === "dir") || a.name.localeCompare(b.name),
      );
      this.#set(path, { entries, error: null, open: path === "" || (before?.open ?? true) });
    } catch (error: unknown) {
      // A chat whose sandbox does not exist yet has no files: say so plainly.
      const empty = error instanceof ApiError && error.code === "file_not_found" && path === "";
      this.#set(path, {
        entries: empty ? [] : (before?.entries ?? null),
        error: empty ? null : messageOf(error),
        open: true,
      });
    }
  }

  #set(path: string, state: DirState): void {
    this.dirs.value = { ...this.dirs.peek(), [path]: state };
  }
}

const panels = new Map<string, FilePanel>();

export function filePanel(chatId: string, api: Pick<Api, "listFiles" | "fileUrl">): FilePanel {
  let panel = panels.get(chatId);
  if (!panel) {
    panel = new FilePanel(chatId, api, (input, init) => fetch(input, init));
    panels.set(chatId, panel);
  }
  return panel;
}
