// Drives kling-mcp with the TypeScript SDK's client-side experimental tasks API (MCP 2025-11-25 tasks).
// Usage: node tasks_client.mjs '<json config>'; prints one JSON object (what the client saw) on stdout.
// Config: {transport: "stdio"|"http", command, args, env, url, token, scenario, taskId, arguments}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, CreateTaskResultSchema } from "@modelcontextprotocol/sdk/types.js";

const GENERATE = "kling_generate_video_from_image";
const config = JSON.parse(process.argv[2]);

function transport() {
  if (config.transport === "stdio") {
    return new StdioClientTransport({ command: config.command, args: config.args, env: config.env, stderr: "ignore" });
  }
  const headers = config.token ? { Authorization: `Bearer ${config.token}` } : {};
  return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers } });
}

// The stream the SDK's experimental API yields for a task-augmented call: taskCreated, taskStatus…, result | error.
async function stream(name, args, ttl) {
  const seen = [];
  const calls = config.client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, {
    task: { ttl },
  });
  for await (const message of calls) {
    if (message.type === "error") seen.push({ type: "error", message: message.error.message });
    else seen.push(message);
  }
  return seen;
}

async function create(args) {
  const request = { method: "tools/call", params: { name: GENERATE, arguments: args, task: { ttl: 3600000 } } };
  return (await config.client.request(request, CreateTaskResultSchema)).task;
}

const scenarios = {
  // List the tools, run a generate call as a task to its result, and call the get tool normally to compare.
  async flow() {
    const tools = (await config.client.listTools()).tools.map((t) => ({ name: t.name, execution: t.execution }));
    const seen = await stream(GENERATE, config.arguments, 3600000);
    const created = seen.find((m) => m.type === "taskCreated");
    const normal = await config.client.callTool({
      name: "kling_get_video_task",
      arguments: { task_id: created.task.taskId },
    });
    const listed = await config.client.experimental.tasks.listTasks();
    return { capabilities: config.client.getServerCapabilities(), tools, seen, normal, listed };
  },
  async failed() {
    const seen = await stream(GENERATE, config.arguments, 60000);
    const created = seen.find((m) => m.type === "taskCreated");
    const task = await config.client.experimental.tasks.getTask(created.task.taskId);
    const result = await config.client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    return { seen, task, result };
  },
  async cancel() {
    const created = await create(config.arguments);
    const cancelled = await config.client.experimental.tasks.cancelTask(created.taskId);
    const task = await config.client.experimental.tasks.getTask(created.taskId);
    let again = null;
    try {
      await config.client.experimental.tasks.cancelTask(created.taskId);
    } catch (error) {
      again = { code: error.code, message: error.message };
    }
    return { created, cancelled, task, again };
  },
  // Create a task and leave (the server is then stopped); `resume` picks it up on another server process.
  async create() {
    return { created: await create(config.arguments) };
  },
  async resume() {
    const task = await config.client.experimental.tasks.getTask(config.taskId);
    const result = await config.client.experimental.tasks.getTaskResult(config.taskId, CallToolResultSchema);
    let final = task;
    while (!["completed", "failed", "cancelled"].includes(final.status)) {
      final = await config.client.experimental.tasks.getTask(config.taskId);
    }
    return { task, result, final };
  },
  async lookup() {
    try {
      return { task: await config.client.experimental.tasks.getTask(config.taskId) };
    } catch (error) {
      return { error: { code: error.code, message: error.message } };
    }
  },
};

config.client = new Client({ name: "kling-mcp-tasks-test", version: "0.0.0" });
await config.client.connect(transport());
try {
  const out = await scenarios[config.scenario]();
  process.stdout.write(JSON.stringify(out) + "\n");
} finally {
  await config.client.close();
}
