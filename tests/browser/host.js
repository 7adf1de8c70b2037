// A minimal MCP Apps host for the browser tests, built on the real AppBridge of @modelcontextprotocol/ext-apps.
// Its MCP connection is `window.mcpRequest(method, params)`, which the test exposes and forwards to a real MCP client
// connected to the real kling-mcp server over streamable HTTP.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const APP_MIME_TYPE = "text/html;profile=mcp-app";

async function mcp(method, params) {
  const answer = await window.mcpRequest(method, params ?? {});
  if (answer.error) throw new Error(answer.error);
  return answer.result;
}

function visibleToApps(tool) {
  const visibility = tool?._meta?.ui?.visibility;
  return !visibility || visibility.includes("app");
}

window.host = { bridge: null, toolResult: null, appCalls: [], openedLinks: [], context: null };

// Render `toolName`'s view the way the spec's lifecycle says, then call the tool and hand its result to the view.
window.startHost = async ({ toolName, args, theme, sandboxUrl }) => {
  const { tools } = await mcp("tools/list");
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const uri = byName.get(toolName)?._meta?.ui?.resourceUri;
  if (!uri) throw new Error(`${toolName} has no _meta.ui.resourceUri`);
  const read = await mcp("resources/read", { uri });
  const content = read.contents[0];
  if (content.mimeType !== APP_MIME_TYPE) throw new Error(`unexpected mime type ${content.mimeType}`);

  const iframe = document.createElement("iframe");
  iframe.id = "view";
  iframe.setAttribute("sandbox", "allow-scripts allow-same-origin");
  iframe.src = sandboxUrl;
  document.getElementById("chat").append(iframe);

  window.host.context = { theme, displayMode: "inline", availableDisplayModes: ["inline"], platform: "web",
    containerDimensions: { maxWidth: 400 } };
  const bridge = new AppBridge(null, { name: "kling-mcp-test-host", version: "1.0.0" },
    { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} },
    { hostContext: window.host.context });
  bridge.oncalltool = async (params) => {
    window.host.appCalls.push(params);
    const tool = byName.get(params.name);
    if (!tool || !visibleToApps(tool)) throw new Error(`tool ${params.name} is not callable by apps`);
    return await mcp("tools/call", params);
  };
  bridge.onreadresource = (params) => mcp("resources/read", params);
  bridge.onopenlink = async ({ url }) => { window.host.openedLinks.push(url); return {}; };
  bridge.onsizechange = ({ height }) => { if (height) iframe.style.height = `${height}px`; };
  bridge.onloggingmessage = (params) => console.log("view log", JSON.stringify(params));
  bridge.onsandboxready = () => bridge.sendSandboxResourceReady({ html: content.text, csp: content._meta?.ui?.csp });
  bridge.oninitialized = async () => {
    await bridge.sendToolInput({ arguments: args });
    const result = await mcp("tools/call", { name: toolName, arguments: args });
    window.host.toolResult = result;
    await bridge.sendToolResult(result);
  };
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  window.host.bridge = bridge;
};

window.setTheme = (theme) => {
  window.host.context = { ...window.host.context, theme };
  window.host.bridge.setHostContext(window.host.context);
};
