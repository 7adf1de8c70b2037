// Drives kling-mcp over streamable HTTP with @modelcontextprotocol/ext-tasks (the SEP-2663 tasks client library)
// on @modelcontextprotocol/client. Reads one JSON config argument, prints one JSON line of what it saw.
// config: {url, token, era: "modern" | "legacy", scenario: "flow" | "cancel", arguments}
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const config = JSON.parse(process.argv[2]);
const MODERN = "2026-07-28";
const clientInfo = { name: "ext-tasks-probe", version: "0.0.0" };
const clientCapabilities = { extensions: { "io.modelcontextprotocol/tasks": {} } };
const auth = { Authorization: `Bearer ${config.token}` };

// The dispatcher ext-tasks needs for a 2026-07-28 tasks server: the SDK client's codecs refuse the task traffic,
// so each request goes out as raw JSON-RPC (ext-tasks hands over method and params: the envelope and id are ours),
// and the answer (JSON, or the matching message of an SSE stream) comes back.
let nextId = 0;
async function dispatch(bare) {
  const request = { jsonrpc: "2.0", id: `ext-tasks-${++nextId}`, ...bare };
  const name = request.params?.name ?? request.params?.taskId; // the Mcp-Name header routes by tool or task
  const response = await fetch(config.url, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json", Accept: "application/json, text/event-stream",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": request.method, ...(name ? { "Mcp-Name": name } : {}) },
    body: JSON.stringify(request),
  });
  const text = await response.text();
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return JSON.parse(text);
  const messages = text.split(/\r?\n/).filter((line) => line.startsWith("data:") && line.length > 5)
    .map((line) => JSON.parse(line.slice(5)));
  const answer = messages.find((message) => message.id === request.id && ("result" in message || "error" in message));
  if (answer === undefined) throw new Error(`no answer to ${request.method} (HTTP ${response.status}): ${text}`);
  return answer;
}

const modern = config.era === "modern";
const client = new Client(clientInfo, {
  capabilities: modern ? clientCapabilities : {},
  versionNegotiation: { mode: modern ? { pin: MODERN } : "legacy" },
});
await client.connect(new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: auth } }));
const session = createTaskSessionFromClient(client, {
  endpointId: "kling-mcp-test",
  ...(modern ? { rawDispatch: dispatch, v2RequestFraming: { protocolVersion: MODERN, clientInfo, clientCapabilities } } : {}),
});
const seen = { era: client.getProtocolEra(), events: [] };
try {
  const execution = await session.callTool("kling_generate_video_from_image", config.arguments, {
    task: { preference: "require" },
  });
  seen.kind = execution.kind;
  seen.taskId = execution.handle?.taskId;
  if (config.scenario === "cancel") {
    await execution.cancel();
  }
  const { outcome, lastTask } = await execution.settle({
    onEvent: (event) => { seen.events.push(event.type === "task" ? event.task.status : `outcome:${event.outcome.status}`); },
  });
  seen.status = outcome.status;
  seen.statusMessage = (outcome.task ?? lastTask)?.statusMessage;
  seen.taskStatus = (outcome.task ?? lastTask)?.status;
  if (outcome.status === "completed") seen.result = resultFromTaskOutcome(outcome);
  if (outcome.status === "failed") seen.error = String(outcome.error?.message ?? outcome.error);
  if (config.scenario === "cancel") {
    // What the server holds now, asked with a 2026-07-28 tasks/get whichever era created the task.
    const meta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientInfo": clientInfo,
                   "io.modelcontextprotocol/clientCapabilities": clientCapabilities };
    seen.server = (await dispatch({ method: "tasks/get", params: { taskId: seen.taskId, _meta: meta } })).result;
  }
} finally {
  await session.close();
  await client.close();
}
console.log(JSON.stringify(seen));
