/**
 * The read-only files panel of a chat's sandbox (a full-screen sheet on narrow screens): a tree
 * opened folder by folder, a viewer for text files and a download link for any file.
 */
import type { FileEntry } from "../api/schemas";
import type { FilePanel } from "../models/files";
import { bytes } from "./format";

function Tree({ panel, path, depth }: { panel: FilePanel; path: string; depth: number }) {
  const dir = panel.dirs.value[path];
  if (!dir) return null;
  if (dir.error) {
    return (
      <p class="error small" role="alert">
        {dir.error}
      </p>
    );
  }
  if (dir.entries === null) return <p class="muted small">Loading…</p>;
  if (dir.entries.length === 0 && depth === 0) {
    return <p class="muted small">No files yet. The agent's workspace appears here once it runs.</p>;
  }
  return (
    <ul class="tree" aria-label={depth === 0 ? "Workspace files" : `Files in ${path}`}>
      {dir.entries.map((entry) => (
        <Entry key={entry.name} panel={panel} parent={path} entry={entry} depth={depth} />
      ))}
    </ul>
  );
}

function Entry({ panel, parent, entry, depth }: { panel: FilePanel; parent: string; entry: FileEntry; depth: number }) {
  const path = parent ? `${parent}/${entry.name}` : entry.name;
  if (entry.type === "dir") {
    const open = panel.dirs.value[path]?.open ?? false;
    return (
      <li>
        <button type="button" class="tree-item" aria-expanded={open} onClick={() => void panel.toggleDir(path)}>
          <span aria-hidden="true">{open ? "▾" : "▸"}</span> {entry.name}/
        </button>
        {open && <Tree panel={panel} path={path} depth={depth + 1} />}
      </li>
    );
  }
  const current = panel.viewed.value?.path === path;
  return (
    <li>
      <button
        type="button"
        class={`tree-item${current ? " current" : ""}`}
        aria-current={current ? "true" : undefined}
        onClick={() => void panel.view(path, entry.size)}
      >
        {entry.name} <span class="muted small">{bytes(entry.size)}</span>
      </button>
    </li>
  );
}

export function FilesPanel({ panel }: { panel: FilePanel }) {
  const viewed = panel.viewed.value;
  return (
    <aside class="files" id="files-panel" aria-label="Sandbox files">
      <div class="files-head">
        <h2>Files</h2>
        <button type="button" onClick={() => void panel.refresh()}>
          Refresh
        </button>
        <button type="button" class="icon" aria-label="Close files" onClick={() => panel.toggle()}>
          ✕
        </button>
      </div>
      <Tree panel={panel} path="" depth={0} />
      {viewed && (
        <section class="viewer" aria-label={`File ${viewed.path}`}>
          <div class="viewer-head">
            <code class="viewer-path">{viewed.path}</code>
            <a href={panel.downloadUrl(viewed.path)} download={viewed.path.split("/").at(-1)}>
              Download
            </a>
            <button type="button" class="icon" aria-label="Close file" onClick={() => panel.closeViewer()}>
              ✕
            </button>
          </div>
          {viewed.loading && <p class="muted small">Loading…</p>}
          {viewed.note && <p class="muted small">{viewed.note}</p>}
          {viewed.text !== null && <pre class="io file-text">{viewed.text}</pre>}
        </section>
      )}
    </aside>
  );
}
