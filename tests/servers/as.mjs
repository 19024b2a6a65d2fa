// Authorization servers: oidc-provider 9.x configured the way MCP Auth's tests
// need it. See README.md for the behaviour this produces on the wire.

import { randomBytes } from 'node:crypto';
import tls from 'node:tls';

import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

import { logger } from './log.mjs';
import { memoryAdapter } from './store.mjs';
import { JWT_BEARER, enableJwtBearer } from './workload.mjs';
import { IDJAG_CLIENT, TOKEN_EXCHANGE } from './idjag.mjs';
import { DEVICE_CODE, DEVICE_SHORT_TTL, deviceFlowFeature, shortenDevicePolling } from './device.mjs';

export const SCOPES = ['openid', 'offline_access', 'mcp:read', 'mcp:write', 'mcp:admin'];
export const RESOURCE_SCOPE = 'mcp:read mcp:write mcp:admin';

// Experimental feature acknowledgement, from
// node_modules/oidc-provider/lib/helpers/features.js (EXPERIMENTS map):
// clientIdMetadataDocument -> 'OAuth Client ID Metadata Document', 'draft-02'.
// A newer oidc-provider that moves to another draft refuses to start with this
// ack instead of silently changing behaviour.
const CIMD_ACK = 'draft-02';

const REDIRECT_URIS = [
  'http://127.0.0.1/callback',
  'http://localhost/callback',
  'mcpauth://oauth/callback',
];

const secret = () => randomBytes(24).toString('base64url');

async function keyPair(alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  // The public JWK carries no `alg`, so an RSA key registered for a client
  // verifies RS256 and PS256 assertions alike.
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { publicJwk, privateJwk, privateKeyPem: await exportPKCS8(privateKey) };
}

/**
 * Generates the pre-registered clients (secrets and key pairs are fresh at
 * every start). Returns both the oidc-provider `clients` metadata and the
 * description printed in the start-up JSON.
 */
export async function createClients() {
  const basicSecret = secret();
  const postSecret = secret();
  const introspectorSecret = secret();
  const idjagSecret = secret();
  const es = await keyPair('ES256', 'mcpauth-es256-key');
  const rs = await keyPair('RS256', 'mcpauth-rs256-key');
  const ps = await keyPair('PS256', 'mcpauth-ps256-key');
  const ed = await keyPair('EdDSA', 'mcpauth-eddsa-key'); // Ed25519

  const userClient = {
    application_type: 'native', // loopback redirect URIs match on any port
    redirect_uris: REDIRECT_URIS,
    response_types: ['code'],
  };

  const metadata = [
    {
      ...userClient,
      client_id: 'mcpauth-public',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    },
    // Its grants cover every MCP server on this authorization server (see
    // `issuerWideGrants` in createProvider).
    {
      ...userClient,
      client_id: 'mcpauth-shared',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-basic',
      client_secret: basicSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-post',
      client_secret: postSecret,
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-es256',
      token_endpoint_auth_method: 'private_key_jwt',
      // token_endpoint_auth_signing_alg deliberately unset: any alg in
      // enabledJWA.clientAuthSigningAlgValues is accepted.
      jwks: { keys: [es.publicJwk] },
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-rs256',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [rs.publicJwk] },
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-ps256',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [ps.publicJwk] },
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    },
    {
      ...userClient,
      client_id: 'mcpauth-eddsa',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [ed.publicJwk] },
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    },
    {
      // A workload (SEP-1933): no secret of its own; its platform's JWT is
      // the grant (workload.mjs).
      client_id: 'mcpauth-workload',
      token_endpoint_auth_method: 'none',
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
    },
    {
      // Enterprise-managed authorization (SEP-990): the client as this AS
      // knows it when it presents an ID-JAG of the test IdP (idjag.mjs).
      client_id: IDJAG_CLIENT,
      client_secret: idjagSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
    },
    {
      // The device flow (RFC 8628) with codes that expire after
      // DEVICE_SHORT_TTL seconds: the "nobody approved in time" case.
      client_id: 'mcpauth-device-short',
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_CODE, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    {
      // Only calls the introspection endpoint (and revocation, if wanted).
      client_id: 'mcp-introspector',
      client_secret: introspectorSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ];

  const described = {
    public: { client_id: 'mcpauth-public' },
    shared: { client_id: 'mcpauth-shared' },
    basic: { client_id: 'mcpauth-basic', client_secret: basicSecret },
    post: { client_id: 'mcpauth-post', client_secret: postSecret },
    es256: {
      client_id: 'mcpauth-es256', private_key_pem: es.privateKeyPem, private_jwk: es.privateJwk, alg: 'ES256',
    },
    rs256: {
      client_id: 'mcpauth-rs256', private_key_pem: rs.privateKeyPem, private_jwk: rs.privateJwk, alg: 'RS256',
    },
    ps256: {
      client_id: 'mcpauth-ps256', private_key_pem: ps.privateKeyPem, private_jwk: ps.privateJwk, alg: 'PS256',
    },
    eddsa: {
      client_id: 'mcpauth-eddsa', private_key_pem: ed.privateKeyPem, private_jwk: ed.privateJwk, alg: 'EdDSA',
    },
    introspector: { client_id: 'mcp-introspector', client_secret: introspectorSecret },
    workload: { client_id: 'mcpauth-workload' },
    device_short: { client_id: 'mcpauth-device-short', device_code_ttl: DEVICE_SHORT_TTL },
    idjag: { client_id: IDJAG_CLIENT, client_secret: idjagSecret },
  };

  return { metadata, described };
}

/**
 * The clients of the enterprise IdP (idjag.mjs), which has only these: the
 * same app, public or confidential, signing users in with OpenID Connect and
 * trading their ID tokens for ID-JAGs.
 */
export function createIdpClients() {
  const idpSecret = secret();
  const base = {
    application_type: 'native',
    redirect_uris: REDIRECT_URIS,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
  };
  return {
    metadata: [
      { ...base, client_id: 'mcpauth-idp', token_endpoint_auth_method: 'none' },
      {
        ...base, client_id: 'mcpauth-idp-secret', client_secret: idpSecret, token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    described: {
      idp: { client_id: 'mcpauth-idp' },
      idp_secret: { client_id: 'mcpauth-idp-secret', client_secret: idpSecret },
    },
  };
}

/**
 * The `fetch` oidc-provider uses for outgoing requests (Client ID Metadata
 * Documents, jwks_uri, sector_identifier_uri).
 *
 * oidc-provider's lib/helpers/fetch_request.js always sets `options.dispatcher`
 * to an SSRF-protecting undici Agent that destroys sockets to special-use
 * addresses (127.0.0.0/8 included) and then calls `configuration.fetch(url,
 * options)`. We replace that dispatcher with an Agent that trusts the test CA
 * and has no address filter, so https://127.0.0.1:P5/... can be fetched.
 * NODE_EXTRA_CA_CERTS cannot be used because it is only read at process start.
 */
function createFetch(caCertPem, timeoutMs) {
  // Same trick oidc-provider uses: Node's bundled undici is not importable,
  // but the global dispatcher it installs exposes its Agent constructor.
  // eslint-disable-next-line no-unused-expressions
  Response; // touching the lazy global loads undici and its global dispatcher
  const Agent = (
    globalThis[Symbol.for('undici.globalDispatcher.2')]
    ?? globalThis[Symbol.for('undici.globalDispatcher.1')]
  )?.constructor;
  if (!Agent) throw new Error('cannot locate the undici Agent constructor of this Node.js');
  const dispatcher = new Agent({ connect: { ca: [...tls.rootCertificates, caCertPem] } });
  // oidc-provider passes AbortSignal.timeout(2500); with --delay-ms the test
  // HTTPS server may be slower than that on purpose, so the timeout grows.
  return (url, options) => globalThis.fetch(url, { ...options, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
}

/**
 * Creates an oidc-provider instance.
 *
 * @param {object} o
 * @param {string} o.issuer            exact issuer identifier
 * @param {() => Set<string>} o.resources   accepted resource indicators (exact strings)
 * @param {object[]} o.clients         client metadata from createClients()
 * @param {number} o.accessTokenTtl    seconds
 * @param {string} o.caCertPem         test CA the provider's fetch trusts
 * @param {string} o.jwtAlg            signing alg of JWT access tokens
 * @param {string} o.cookiePrefix      distinct cookie names per AS: browsers
 *                                     share cookies across ports of one host
 * @param {string} o.name              log prefix
 * @param {number} [o.fetchTimeoutMs]  timeout of the provider's outgoing requests
 * @param {object} [o.workload]        {platform, log}: accept the platform's
 *                                     tokens with the JWT bearer grant (workload.mjs)
 * @param {object} [o.idjag]           the IdP (idjag.mjs createIdp) whose ID-JAGs
 *                                     the JWT bearer grant accepts
 * @param {object[]} [o.extraKeys]     more private JWKs to publish and sign with
 * @param {number} [o.idTokenTtl]      seconds (default 3600)
 */
export async function createProvider({
  issuer, resources, clients, accessTokenTtl, caCertPem, jwtAlg, cookiePrefix, name, fetchTimeoutMs = 2500, workload, idjag,
  extraKeys = [], idTokenTtl = 3600,
}) {
  const log = logger(name);
  const resourceInfo = async (resourceIndicator) => {
    if (!resources().has(resourceIndicator)) {
      throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
    }
    return {
      scope: RESOURCE_SCOPE,
      audience: resourceIndicator,
      accessTokenFormat: 'jwt',
      accessTokenTTL: accessTokenTtl,
      jwt: { sign: { alg: jwtAlg } },
    };
  };
  const rsa = await keyPair('RS256', `${name}-rs256`);
  const ec = await keyPair('ES256', `${name}-es256`);

  const configuration = {
    adapter: memoryAdapter(issuer),
    clients,
    jwks: { keys: [rsa.privateJwk, ec.privateJwk, ...extraKeys] },
    cookies: {
      keys: [secret()],
      names: {
        session: `${cookiePrefix}_session`,
        interaction: `${cookiePrefix}_interaction`,
        resume: `${cookiePrefix}_interaction_resume`,
      },
    },

    // Any login works (devInteractions); the account id is the login name.
    async findAccount(ctx, id) {
      return { accountId: id, async claims() { return { sub: id }; } };
    },

    scopes: SCOPES,
    clientBasedCORS: () => true,
    pkce: { required: () => true }, // S256 is the only method offered (default)
    rotateRefreshToken: true,

    // Default policy issues a refresh token only when offline_access was
    // granted, and offline_access is silently dropped from authorization
    // requests without prompt=consent. Issue one to every client that may use
    // the refresh_token grant instead.
    async issueRefreshToken(ctx, client /* , code */) {
      return client.grantTypeAllowed('refresh_token');
    },
    // Default: refresh tokens without offline_access die with the session.
    async expiresWithSession() { return false; },

    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      AuthorizationCode: 600,
      IdToken: idTokenTtl,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      DeviceCode: (ctx, token, client) => (client?.clientId === 'mcpauth-device-short' ? DEVICE_SHORT_TTL : 600),
    },

    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true }, // open: no initial access token
      revocation: {
        enabled: true,
        // Same as the default, stated explicitly (silences a notice): a
        // client may only revoke its own tokens.
        async allowedPolicy(ctx, client, token) {
          if (token.clientId !== client.clientId) {
            if (client.clientAuthMethod === 'none') return false;
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      introspection: {
        enabled: true,
        // Any authenticated confidential client (mcp-introspector in
        // particular) may introspect any token; public clients only their own.
        async allowedPolicy(ctx, client, token) {
          return !(client.clientAuthMethod === 'none' && token.clientId !== client.clientId);
        },
      },
      clientCredentials: { enabled: true },
      // On by default in oidc-provider 9 (and so advertised in discovery);
      // here every DPoP proof must carry the server's nonce (RFC 9449 §8),
      // so each DPoP token request is refused once with use_dpop_nonce.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      deviceFlow: deviceFlowFeature,
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx, client, oneOf) { return oneOf ?? undefined; },
        // Authorization code and refresh token exchanges without `resource`
        // use the resource that was granted.
        async useGrantedResource() { return true; },
        async getResourceServerInfo(ctx, resourceIndicator /* , client */) {
          return resourceInfo(resourceIndicator);
        },
      },
      clientIdMetadataDocument: { enabled: true, ack: CIMD_ACK },
    },

    fetch: createFetch(caCertPem, fetchTimeoutMs),
  };

  const provider = new Provider(issuer, configuration);
  if (workload || idjag) {
    enableJwtBearer(provider, {
      issuer, resourceInfo, workload, idjag,
    });
  }
  shortenDevicePolling(provider);

  // One sign-in for every MCP server here, for the client `mcpauth-shared`:
  // its authorization requests ask for every resource this server issues
  // tokens for, so the grant, and its refresh token, covers all of them and
  // a refresh for another server's resource is accepted (RFC 8707 §2.2), as
  // at providers whose consent covers a whole tenant. Every other client
  // keeps oidc-provider's own policy: a refresh token serves the resources
  // its authorization request named, and no other.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth' && ctx.query.client_id === 'mcpauth-shared') {
      const asked = [].concat(ctx.query.resource ?? []);
      ctx.query = { ...ctx.query, resource: [...new Set([...asked, ...resources()])] };
    }
    await next();
  });

  // Dynamically registered clients match redirect URIs exactly, port
  // included, as many deployed servers do (oidc-provider alone would let a
  // native client's loopback port vary, RFC 8252 §7.3): a re-authorization
  // that sends a redirect URI it never registered is refused here as there.
  // Pre-registered clients and metadata-document clients (https:// ids) keep
  // the RFC's port-agnostic matching.
  const preRegistered = new Set(clients.map((c) => c.client_id));
  const portAgnostic = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    if (preRegistered.has(this.clientId) || this.clientId.startsWith('https://')) {
      return portAgnostic.call(this, value);
    }
    return this.redirectUris.includes(value);
  };

  // Diagnostics on stderr; they help when a Rust test gets an unexpected error.
  provider.on('server_error', (ctx, err) => log('server_error', ctx.method, ctx.path, err));
  for (const ev of [
    'authorization.error', 'grant.error', 'registration_create.error',
    'introspection.error', 'revocation.error', 'pushed_authorization_request.error',
    'device_authorization.error',
  ]) {
    provider.on(ev, (ctx, err) => log(ev, err.error ?? err.name, err.error_description ?? err.message, err.error_detail ?? ''));
  }
  return provider;
}
