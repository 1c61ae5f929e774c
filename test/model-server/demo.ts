/**
 * The deterministic offline demo model: answers any unscripted request with plainly labelled text,
 * and turns a `$ command` line in the user's message into one Bash tool_use, then summarises the
 * tool result it gets back. Used by the model server when a request carries no script marker.
 */
import { assistantsAfter, lastUserText, type Message, toolResults } from "./conversation.ts";
import type { ReplyTurn } from "./sse.ts";

const NOTICE = "This reply comes from the offline demo model, not Claude. Set ANTHROPIC_API_KEY to use the real API.";

function commandOf(text: string): string | null {
  for (const line of text.split("\n")) {
    if (line.startsWith("$ ") && line.slice(2).trim() !== "") return line.slice(2).trim();
  }
  return null;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function demoTurn(messages: Message[]): ReplyTurn {
  const user = lastUserText(messages);
  if (!user) return { blocks: [{ type: "text", text: `[demo model] Hello. ${NOTICE}` }] };
  const command = commandOf(user.text);
  const answered = assistantsAfter(messages, user.index);
  if (command && answered === 0) {
    return {
      blocks: [
        { type: "text", text: `[demo model] I will run \`${command}\` in the workspace.` },
        { type: "tool_use", name: "Bash", input: { command, description: "Run the requested command" } },
      ],
    };
  }
  if (command) {
    const last = messages[messages.length - 1];
    const result = last && last.role === "user" ? toolResults(last)[0] : undefined;
    const raw = result ? result.text.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, "").trim() : "";
    const output = clip(raw || "(no output)", 2000);
    const verdict = result?.isError ? "failed or was not allowed" : "finished";
    return {
      blocks: [
        {
          type: "text",
          text: `[demo model] \`${command}\` ${verdict}. Output:\n\n\`\`\`\n${output}\n\`\`\`\n\n${NOTICE}`,
        },
      ],
    };
  }
  return {
    blocks: [
      {
        type: "text",
        text: `[demo model] You said: "${clip(user.text.trim(), 200)}". ${NOTICE} Start a line with "$ " to have me run it as a shell command.`,
      },
    ],
  };
}
