/**
 * Scripts that make the real agent run shell commands (one Bash tool call per model turn) and
 * readers for what came back, for the isolation and limit tests: each command's output as the
 * agent's tool received it, and the assistant's text blocks.
 */
import type { Turn } from "../model-server/server.ts";
import { agentData, type Loose, type Rec } from "./client.ts";

/** One Bash tool call per turn, then a closing text. `timeout` (ms) is the Bash tool's own. */
export function bashTurns(commands: string[], closing: string, timeout = 120_000): Turn[] {
  return [
    ...commands.map(
      (command, i): Turn => ({
        blocks: [{ type: "tool_use", name: "Bash", input: { command, description: `step ${i + 1}`, timeout } }],
      }),
    ),
    { blocks: [{ type: "text", text: closing }] },
  ];
}

export type ToolOutput = { command: string; output: string; isError: boolean };

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((c: Loose) => (typeof c?.text === "string" ? c.text : "")).join("");
  return "";
}

/** Every Bash call of a run with the output the agent got for it, in order. */
export function toolOutputs(recs: Rec[]): ToolOutput[] {
  const data = agentData(recs);
  const commands = new Map<string, string>();
  for (const d of data) {
    if (d.type !== "assistant") continue;
    for (const block of d.message.content) {
      if (block.type === "tool_use") commands.set(block.id, String(block.input?.command ?? ""));
    }
  }
  const out: ToolOutput[] = [];
  for (const d of data) {
    if (d.type !== "user" || !Array.isArray(d.message?.content)) continue;
    for (const block of d.message.content) {
      if (block.type !== "tool_result") continue;
      out.push({
        command: commands.get(block.tool_use_id) ?? "",
        output: text(block.content),
        isError: block.is_error === true,
      });
    }
  }
  return out;
}

/** The assistant's finished text blocks, in order. */
export function assistantTexts(recs: Rec[]): string[] {
  return agentData(recs)
    .filter((d) => d.type === "assistant")
    .flatMap((d) => d.message.content)
    .filter((b: Loose) => b.type === "text")
    .map((b: Loose) => b.text as string);
}
