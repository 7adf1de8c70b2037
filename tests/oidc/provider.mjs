// A real OAuth 2.1 / OpenID Connect identity provider for the tests: npm `oidc-provider` on loopback.
//
// Usage: node provider.mjs CONFIG.json   (the tests write the file; see tests/oidc_support.py)
// CONFIG: {"port", "issuer", "keys": [private JWKs, the first one signs], "resource": the MCP server's resource id,
//          "clients": [client metadata]}
// Prints "ready <issuer>" on stdout once it listens. Sign-in is scripted: the interaction pages log in whoever the
// `x-test-account` request header names and grant what was asked, so no browser is needed.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.OIDC_PROVIDER_PREFIX}/`);
const Provider = require('oidc-provider').default ?? require('oidc-provider');

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const SCOPES = 'kling:read kling:generate kling:admin';

function resourceServer(_ctx, indicator, client) {
  // Tokens for any resource are issued (the tests ask for other audiences on purpose); the client picks the format
  // and lifetime, so one provider can hand out short-lived and opaque tokens too.
  const opaque = client.clientId.startsWith('opaque');
  return {
    scope: SCOPES,
    audience: indicator,
    accessTokenTTL: client.clientId.startsWith('short') ? 1 : 600,
    accessTokenFormat: opaque ? 'opaque' : 'jwt',
    jwt: { sign: { alg: config.keys[0].alg ?? 'RS256' } },
  };
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: config.keys },
  // Listed so that clients may register with them (dynamic registration checks a client's `scope` against it).
  scopes: ['openid', 'offline_access', ...SCOPES.split(' ')],
  findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: resourceServer,
    },
  },
});
provider.proxy = false;

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const account = req.headers['x-test-account'];
  if (!account) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('send x-test-account');
    return;
  }
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: String(account) } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
// What the tests count (e.g. introspection POSTs): "<METHOD> <path>" → requests served, at GET /test/requests.
const served = {};
const server = createServer((req, res) => {
  if (req.url === '/test/requests') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    return;
  }
  const key = `${req.method} ${req.url.split('?')[0]}`;
  served[key] = (served[key] ?? 0) + 1;
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
